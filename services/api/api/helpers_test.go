package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// trainSet is a small catalog with two taste groups: users u0..u19 love
// action (A*) and dislike romance (R*), u20..u39 the opposite.
func trainSet() recommend.TrainSet {
	rng := rand.New(rand.NewPCG(7, 1))
	var ts recommend.TrainSet
	for _, genre := range []string{"Action", "Romance"} {
		for j := range 30 {
			ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: fmt.Sprintf("%s%d", genre[:1], j),
				Title: fmt.Sprintf("%s \"Story\" %d", genre, j), Year: 1990 + j, Genres: []string{genre}})
		}
	}
	for u := range 40 {
		likes := "A"
		if u >= 20 {
			likes = "R"
		}
		for _, mv := range ts.Movies {
			if rng.Float64() > 0.5 {
				continue
			}
			v := 1 + rng.Float64()
			if mv.ID[:1] == likes {
				v = 4 + rng.Float64()
			}
			ts.Interactions = append(ts.Interactions, recommend.Interaction{User: fmt.Sprintf("u%d", u), Movie: mv.ID, Value: float64(int(v*2)) / 2})
		}
	}
	return ts
}

var (
	baseOnce  sync.Once
	baseModel []byte
	baseErr   error
)

// snapshotBytes returns a snapshot of the test model stamped with version.
// The fit runs once per test binary; each call decodes a fresh copy.
func snapshotBytes(t testing.TB, version int64) []byte {
	t.Helper()
	baseOnce.Do(func() {
		m, err := recommend.Fit(trainSet(), recommend.Config{Factors: 4, RatingFactors: 4})
		if err != nil {
			baseErr = err
			return
		}
		baseModel, baseErr = m.MarshalBinary()
	})
	if baseErr != nil {
		t.Fatalf("fit test model: %v", baseErr)
	}
	m, err := recommend.Decode(baseModel)
	if err != nil {
		t.Fatalf("decode test model: %v", err)
	}
	m.Version = version
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("snapshot test model: %v", err)
	}
	return b
}

// testModel returns a decoded test model stamped with version.
func testModel(t testing.TB, version int64) *recommend.Model {
	t.Helper()
	m, err := recommend.Decode(snapshotBytes(t, version))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newTestService builds a service on its own registry; src may be nil for
// handler tests that swap models in directly.
func newTestService(t testing.TB, src Source) (*Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.RetryBackoff = 50 * time.Millisecond
	s, err := New(cfg, Deps{Registerer: reg, Gatherer: reg, Source: src})
	if err != nil {
		t.Fatalf("new api service: %v", err)
	}
	return s, reg
}

// serveModel swaps a fresh test model of version in, as a load would.
func serveModel(t testing.TB, s *Service, version int64) {
	t.Helper()
	s.swap(testModel(t, version), modelbus.Manifest{Version: version, Object: modelbus.ObjectName(version),
		CreatedAt: time.Now().Add(-time.Minute)}, "")
}

// call runs one in-process request and decodes a JSON answer into out
// (when not nil); it returns the status and the raw body.
func call(t testing.TB, s *Service, method, path, body string, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer %d is not the JSON expected: %v\n%s", method, path, resp.StatusCode, err, raw)
		}
	}
	return resp.StatusCode, raw
}

// predictAnswer mirrors the /predict response for decoding in tests.
type predictAnswer struct {
	UserID          string `json:"user_id"`
	Recommendations []struct {
		MovieID         string   `json:"movie_id"`
		Title           string   `json:"title"`
		Score           *float64 `json:"score"`
		PredictedRating float64  `json:"predicted_rating"`
	} `json:"recommendations"`
	ModelVersion    string   `json:"model_version"`
	InferenceTimeMS *float64 `json:"inference_time_ms"`
	ColdStart       bool     `json:"cold_start"`
	Cached          bool     `json:"cached"`
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; it bounds a wait, it does not assert a speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func httpGetJSON(t testing.TB, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

// listenApp serves s's Fiber app on a free local port until the test ends
// and returns its address.
func listenApp(t *testing.T, s *Service) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.App().Listener(ln) //nolint:errcheck // returns on Shutdown below
	t.Cleanup(func() { s.App().Shutdown() })
	return ln.Addr().String()
}
