package ingest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/telemetry/telemetrytest"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

func ratingAt(id string, ts time.Time) string {
	return fmt.Sprintf(`{"event_id":%q,"user_id":"u1","movie_id":"m1","rating":4,"ts":%q}`, id, ts.UTC().Format(time.RFC3339))
}

// An event time beyond the allowed skew is refused with a 400 naming ts;
// within it, accepted (issue 10, defect 5).
func TestFutureEventTimeRefused(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) { c.MaxClockSkew = 10 * time.Minute })
	now := time.Now()
	if r := f.do(t, "POST", "/v1/ratings", ratingAt("soon", now.Add(5*time.Minute))); r.status != http.StatusAccepted {
		t.Errorf("5 minutes ahead: %d %s, want 202", r.status, r.body)
	}
	for _, ts := range []time.Time{now.Add(time.Hour), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		body := "[" + rating("ok", "u2", "m2", 3) + "," + ratingAt("late", ts) + "]"
		r := f.do(t, "POST", "/v1/ratings", body)
		if r.status != http.StatusBadRequest || len(r.Items) != 1 || r.Items[0].Index != 1 || r.Items[0].Field != "ts" ||
			!strings.Contains(r.Items[0].Reason, "ahead of the receiving clock") {
			t.Errorf("ts %s: %d %s, want 400 naming item 1's ts", ts, r.status, r.body)
		}
	}
	r := f.do(t, "POST", "/v1/ratings", ratingAt("zero", time.Time{}))
	if r.status != http.StatusBadRequest || len(r.Items) != 1 || r.Items[0].Field != "ts" ||
		!strings.Contains(r.Items[0].Reason, "before 1970") {
		t.Errorf("the zero time: %d %s, want 400: before 1970", r.status, r.body)
	}
}

// Numeric ids are read as their digits, as POST /predict reads user_id.
func TestNumericIDsAccepted(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)
	r := f.do(t, "POST", "/v1/ratings", `{"event_id":"n1","user_id":196,"movie_id":242,"rating":3,"ts":"2026-11-27T10:00:00Z"}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("numeric ids: %d %s", r.status, r.body)
	}
	msgs := readAll(testCtx(t), t, k.Brokers(), 1)
	e, err := events.Decode(msgs[0].Value)
	if err != nil || e.UserID != "196" || e.MovieID != "242" || string(msgs[0].Key) != "196" {
		t.Errorf("in Kafka: key %q, %+v, %v", msgs[0].Key, e, err)
	}
}

// startPost dials addr and sends the headers of a POST /v1/ratings that
// announces length bytes of body; the caller writes the body, or part of
// it, and closes the connection.
func startPost(t *testing.T, addr, token string, length int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(conn, "POST /v1/ratings HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", auth, length)
	return conn
}

// rawPost sends a POST /v1/ratings announcing length bytes and writes send
// of them (without waiting for the answer first), then returns the status
// and body of the answer.
func rawPost(t *testing.T, addr, token string, length, send int) (int, string) {
	t.Helper()
	conn := startPost(t, addr, token, length)
	defer conn.Close()
	go func() {
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for sent := 0; sent < send; sent += len(chunk) {
			if _, err := conn.Write(chunk[:min(len(chunk), send-sent)]); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveWithToken runs the service on a free port, requiring the token
// "secret" and taking bodies of up to 8 MiB, and returns its address.
func serveWithToken(t *testing.T) string {
	t.Helper()
	k := embeddedtest.StartTestKafka(t)
	return serve(t, newFixture(t, k.Brokers(), func(c *ingest.Config) {
		c.Tokens = []string{"secret"}
		c.MaxBodyBytes = 8 << 20
	}))
}

// Without a token the request is refused from its headers: the body is not
// read, so strangers cannot make the service hold their megabytes (issue
// 10, defect 2). The client announces 8 MiB and sends only 64 KiB: an
// answer that arrives at all came before the body.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	addr := serveWithToken(t)
	status, body := rawPost(t, addr, "", 8<<20, 64<<10)
	if status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s, want 401 before the body was sent", status, body)
	}
}

// The test-sized attack: 24 concurrent 4 MiB POSTs without a token. The
// heap the process holds afterwards stays far below what the bodies would
// take (96 MiB).
func TestUnauthenticatedFloodHoldsNoBodies(t *testing.T) {
	addr := serveWithToken(t)
	before := heapInUse()
	const n, size = 24, 4 << 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() { statuses[i], _ = rawPost(t, addr, "", size, size) })
	}
	wg.Wait()
	after := heapInUse()
	for i, s := range statuses {
		if s != http.StatusUnauthorized {
			t.Errorf("request %d: %d, want 401", i, s)
		}
	}
	grew := int64(after) - int64(before)
	t.Logf("heap in use: %d MiB before, %d MiB after %d x %d MiB unauthenticated POSTs", before>>20, after>>20, n, size>>20)
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MiB: the bodies were read", grew>>20)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Bodies being read at once are bounded in bytes: past the budget a
// request waits, then gets 503 with Retry-After (issue 10, defect 2).
func TestConcurrentBodyBytesBounded(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) {
		c.MaxBodyBytes = 1 << 20
		c.MaxInflightBodyBytes = 1 << 20
		c.InflightWait = 200 * time.Millisecond
	})
	addr := serve(t, f)
	// One client announces 1 MiB and sends half: it holds the whole budget.
	conn := startPost(t, addr, "", 1<<20)
	defer conn.Close()
	conn.Write([]byte(strings.Repeat(" ", 512<<10)))
	time.Sleep(100 * time.Millisecond) // let the server start reading it
	status, body := rawPost(t, addr, "", 1000, 1000)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "retry") {
		t.Errorf("over the in-flight budget: %d %s, want 503", status, body)
	}
}

// A 503 from a broker that did not confirm in time must not promise that
// nothing was written: the broker may still append it, so the client
// retries with the same event ids (issue 10, defect 8).
func TestUnavailableAnswerIsHonest(t *testing.T) {
	f := newFixture(t, []string{"127.0.0.1:1"}, func(c *ingest.Config) { c.KafkaTimeout = 300 * time.Millisecond })
	r := f.do(t, "POST", "/v1/ratings", rating("e1", "u1", "m1", 4))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if strings.Contains(r.Error, "nothing was accepted") || !strings.Contains(r.Error, "same event_id") {
		t.Errorf("503 body %q: must tell the client to retry with the same event ids, and promise nothing", r.Error)
	}
}

// Under concurrent requests of mixed methods the HTTP metrics keep exact
// label values and the registry keeps gathering (issue 10, defect 1).
func TestMetricsSurviveMixedTraffic(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)
	addr := serve(t, f)
	mix := []telemetrytest.Request{
		{Method: "POST", Path: "/v1/ratings", Body: rating("m1", "u1", "m1", 4)},
		{Method: "GET", Path: "/health"},
		{Method: "POST", Path: "/v1/swipes", Body: "garbage"},
		{Method: "GET", Path: "/nothing/here"},
		{Method: "PUT", Path: "/v1/ratings"},
		{Method: "OPTIONS", Path: "/health"},
	}
	telemetrytest.MixedTraffic(t, "http://"+addr, mix, 200, 16, f.reg,
		[]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"},
		// "/v1" is the token check's route: no token is configured here.
		[]string{"/health", "/ready", "/metrics", "/v1/ratings", "/v1/swipes", "/v1", "other"})
}
