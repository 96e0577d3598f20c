package telemetry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMethodIsAConstant(t *testing.T) {
	for _, m := range Methods[:len(Methods)-1] {
		buf := []byte(m)
		got := Method(string(buf))
		buf[0] = 'X' // the caller's bytes change; the label must not
		if got != m {
			t.Errorf("Method(%q) = %q", m, got)
		}
	}
	for _, m := range []string{"GETT", "POS", "", "BREW", "get"} {
		if got := Method(m); got != "other" {
			t.Errorf("Method(%q) = %q, want other", m, got)
		}
	}
}

func notFoundBody(t *testing.T, resp *http.Response) NotFoundBody {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var nf NotFoundBody
	if err := json.Unmarshal(b, &nf); err != nil || resp.StatusCode != 404 ||
		!strings.Contains(nf.Error, "no route for GET /nope") {
		t.Fatalf("404 answer: %d %s (%v)", resp.StatusCode, b, err)
	}
	return nf
}

// Both stacks answer an unknown path with the same JSON 404 and count it
// under the "other" endpoint.
func TestNotFoundIsTheSameJSONOnBothStacks(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := NewHTTP(reg, "x")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Use(h.FiberMiddleware(func(c *fiber.Ctx, err error) error { return c.SendStatus(500) }))
	app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Use(FiberNotFound)
	resp, err := app.Test(httptest.NewRequest("GET", "/nope", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	fiberBody := notFoundBody(t, resp)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {})
	rec := httptest.NewRecorder()
	h.ServeMux(mux, time.Now).ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if muxBody := notFoundBody(t, rec.Result()); muxBody != fiberBody {
		t.Errorf("net/http says %+v, Fiber %+v", muxBody, fiberBody)
	}
	if n := testutil.ToFloat64(h.requests.WithLabelValues("x", "GET", OtherEndpoint, "404")); n != 2 {
		t.Errorf("%v requests counted under endpoint other, want 2", n)
	}
	rec = httptest.NewRecorder()
	h.ServeMux(mux, time.Now).ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if n := testutil.ToFloat64(h.requests.WithLabelValues("x", "GET", "/ok", "200")); n != 1 {
		t.Errorf("%v requests counted under /ok, want 1", n)
	}
}
