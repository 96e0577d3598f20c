package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/svcmain/svcmaintest"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

type fixture struct {
	svc     *ingest.Service
	reg     *prometheus.Registry
	brokers []string
	logs    *bytes.Buffer
}

func newFixture(t *testing.T, brokers []string, mod func(*ingest.Config)) fixture {
	t.Helper()
	cfg := ingest.DefaultConfig()
	cfg.Brokers = brokers
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	logs := &bytes.Buffer{}
	svc, err := ingest.New(cfg, ingest.Deps{
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, reg: reg, brokers: brokers, logs: logs}
}

type reply struct {
	status  int
	header  http.Header
	body    []byte
	Error   string             `json:"error"`
	Items   []events.ItemError `json:"items"`
	EventID []string           `json:"event_ids"`
}

func (f fixture) do(t *testing.T, method, path, body string, header ...string) reply {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.svc.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	r.body, _ = io.ReadAll(resp.Body)
	if len(r.body) > 0 && r.body[0] == '{' {
		if err := json.Unmarshal(r.body, &r); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, path, r.body, err)
		}
	}
	return r
}

func rating(id, user, movie string, r float64) string {
	return fmt.Sprintf(`{"event_id":%q,"user_id":%q,"movie_id":%q,"rating":%v,"ts":"2026-11-27T10:00:00Z","source":"test"}`, id, user, movie, r)
}

func swipe(id, user, movie, s string) string {
	return fmt.Sprintf(`{"event_id":%q,"user_id":%q,"movie_id":%q,"swipe":%q,"ts":"2026-11-27T10:00:00Z"}`, id, user, movie, s)
}

// readAll consumes n messages of the ratings topic from the start.
func readAll(ctx context.Context, t *testing.T, brokers []string, n int) []kafkabus.Message {
	t.Helper()
	r := kafkabus.NewGroupReader(brokers, "check-"+t.Name(), kafkabus.Ratings)
	defer r.Close()
	var out []kafkabus.Message
	for len(out) < n {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatalf("read %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func written(ctx context.Context, t *testing.T, brokers []string) int64 {
	t.Helper()
	n, err := kafkabus.TotalLag(ctx, brokers, "nobody", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAcceptedEventsReachKafkaKeyedByUser(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)

	cases := []struct{ path, body string }{
		{"/v1/ratings", "[" + rating("e1", "u1", "m1", 4.5) + "," + rating("e2", "u2", "m1", 1) + "]"},
		{"/v1/swipes", swipe("e3", "u1", "m2", "like") + "\n" + swipe("e4", "u3", "m3", "superlike") + "\n"},
		{"/v1/ratings", rating("e5", "u4", "m9", 3)},
	}
	want := map[string]string{"e1": "u1", "e2": "u2", "e3": "u1", "e4": "u3", "e5": "u4"}
	for _, tc := range cases {
		r := f.do(t, "POST", tc.path, tc.body)
		if r.status != http.StatusAccepted {
			t.Fatalf("POST %s: %d %s", tc.path, r.status, r.body)
		}
		for _, id := range r.EventID {
			if _, ok := want[id]; !ok {
				t.Errorf("accepted unknown id %s", id)
			}
		}
	}
	for _, m := range readAll(ctx, t, k.Brokers(), len(want)) {
		e, err := events.Decode(m.Value)
		if err != nil {
			t.Fatalf("message %s is not an event: %v", m.Value, err)
		}
		if string(m.Key) != want[e.EventID] || e.UserID != want[e.EventID] {
			t.Errorf("event %s: key %q user %q, want %q", e.EventID, m.Key, e.UserID, want[e.EventID])
		}
	}
}

func TestBadBatchRejectedWhole(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)

	body := "[" + strings.Join([]string{
		rating("ok1", "u1", "m1", 4),
		`{"event_id":"b1","user_id":"u1","movie_id":"m1","rating":7,"ts":"2026-11-27T10:00:00Z"}`,
		rating("ok2", "u1", "m2", 2),
		swipe("b2", "u2", "m1", "like"),
		`{"event_id":"b3","movie_id":"m1","rating":3,"ts":"2026-11-27T10:00:00Z"}`,
	}, ",") + "]"
	r := f.do(t, "POST", "/v1/ratings", body)
	if r.status != http.StatusBadRequest || r.Error != "3 of 5 events are invalid; none was accepted" {
		t.Fatalf("status %d, want 400 saying 3 of 5 are invalid: %s", r.status, r.body)
	}
	want := []struct {
		index int
		field string
	}{{1, "rating"}, {3, "rating"}, {4, "user_id"}}
	if len(r.Items) != len(want) {
		t.Fatalf("items %+v, want %d", r.Items, len(want))
	}
	for i, w := range want {
		if r.Items[i].Index != w.index || r.Items[i].Field != w.field || r.Items[i].Reason == "" {
			t.Errorf("item %d = %+v, want index %d field %s with a reason", i, r.Items[i], w.index, w.field)
		}
	}
	if n := written(ctx, t, k.Brokers()); n != 0 {
		t.Fatalf("%d messages written for a refused batch", n)
	}

	// Garbage that is not a batch at all.
	if r := f.do(t, "POST", "/v1/swipes", "hello"); r.status != http.StatusBadRequest || r.Error == "" {
		t.Errorf("garbage: %d %s", r.status, r.body)
	}
}

// A body over the limit gets a 413 that names the limit, in process and
// over HTTP. Far over the limit, the service refuses the body from its
// announced length, after the first few KiB (the server reads ahead 8 KiB).
func TestTooLarge(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) { c.MaxBodyBytes = 512 })
	var lines []string
	for i := range 10 {
		lines = append(lines, rating(fmt.Sprint("e", i), "u1", "m1", 4))
	}
	r := f.do(t, "POST", "/v1/ratings", strings.Join(lines, "\n"))
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Error, "512 bytes") {
		t.Errorf("over the limit: %d %s, want 413 naming 512 bytes", r.status, r.body)
	}
	addr := serve(t, f)
	if status, body := rawPost(t, addr, "", 1<<20, 1<<20); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "512 bytes") {
		t.Errorf("1 MiB body: %d %s, want 413 naming 512 bytes", status, body)
	}
	if status, body := rawPost(t, addr, "", 1<<20, 16<<10); status != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB announced, 16 KiB sent: %d %s, want 413", status, body)
	}
}

// serve runs the service on a free port until the test ends.
func serve(t *testing.T, f fixture) string {
	t.Helper()
	return svcmaintest.Serve(t, f.svc.Serve)
}

func TestKafkaDown503(t *testing.T) {
	k, err := embedded.StartKafka(context.Background(), embedded.KafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) { c.KafkaTimeout = time.Second })
	if r := f.do(t, "POST", "/v1/ratings", rating("e1", "u1", "m1", 4)); r.status != http.StatusAccepted {
		t.Fatalf("while up: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/ready", ""); r.status != http.StatusOK {
		t.Fatalf("ready while up: %d", r.status)
	}
	k.Close()
	r := f.do(t, "POST", "/v1/ratings", rating("e2", "u1", "m1", 4))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("with the broker down: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := f.do(t, "GET", "/ready", ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("ready with the broker down: %d", r.status)
	}
}

func TestAuth(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	const secret = "s3cret-token-value"
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) { c.Tokens = []string{"other", secret} })
	body := rating("e1", "u1", "m1", 4)
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"none", nil, 401},
		{"wrong", []string{"Authorization", "Bearer nope"}, 401},
		{"prefix of a token", []string{"Authorization", "Bearer s3cret"}, 401},
		{"not bearer", []string{"Authorization", "Basic " + secret}, 401},
		{"right", []string{"Authorization", "Bearer " + secret}, 202},
		{"lowercase scheme", []string{"Authorization", "bearer other"}, 202},
	} {
		r := f.do(t, "POST", "/v1/ratings", body, tc.header...)
		if r.status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.want)
		}
		if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
	if r := f.do(t, "GET", "/health", ""); r.status != 200 {
		t.Errorf("/health needs no token, got %d", r.status)
	}
	if strings.Contains(f.logs.String(), secret) {
		t.Error("a token appears in the logs")
	}
}

// Every metric ingest registers is listed in docs/metrics.md.
func TestMetricNamesInContract(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)
	f.do(t, "POST", "/v1/ratings", rating("e1", "u1", "m1", 4))
	f.do(t, "POST", "/v1/ratings", "[]")
	f.do(t, "GET", "/health", "")

	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatalf("read the metrics contract: %v", err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`(swipeflix_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		listed[m[1]] = true
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) < 3 {
		t.Fatalf("gathered %d metric families, want the 3 ingest ones", len(mfs))
	}
	for _, mf := range mfs {
		if !listed[mf.GetName()] {
			t.Errorf("metric %s is not in docs/metrics.md", mf.GetName())
		}
	}
	r := f.do(t, "GET", "/metrics", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`swipeflix_ingest_events_total{kind="rating",result="accepted"} 1`)) {
		t.Errorf("/metrics: %d\n%s", r.status, r.body)
	}
}

// Two services of one process share the HTTP series in one registry.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := range 2 {
		if _, err := ingest.New(ingest.DefaultConfig(), ingest.Deps{Registerer: reg, Gatherer: reg}); err != nil {
			t.Fatalf("service %d on a shared registry: %v", i, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := ingest.DefaultConfig()
	cfg.Brokers = nil
	cfg.MaxBodyBytes = 0
	cfg.Tokens = []string{""}
	_, err := ingest.New(cfg, ingest.Deps{})
	for _, field := range []string{"kafka brokers", "max body bytes", "tokens"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New with a bad %s: %v", field, err)
		}
	}
}

func TestServeOverHTTP(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)
	addr := serve(t, f)

	resp, err := http.Post("http://"+addr+"/v1/ratings", "application/x-ndjson",
		strings.NewReader(rating("e1", "u1", "m1", 4)+"\n"+rating("e2", "u1", "m2", 5)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Accepted int      `json:"accepted"`
		EventIDs []string `json:"event_ids"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 202 || got.Accepted != 2 || strings.Join(got.EventIDs, ",") != "e1,e2" {
		t.Fatalf("over HTTP: %d %+v", resp.StatusCode, got)
	}
}

func TestConfigSettings(t *testing.T) {
	env := map[string]string{"INGEST_ADDR": "127.0.0.1:9999", "SWIPEFLIX_INGEST_TOKENS": "t1,t2",
		"INGEST_MAX_BODY_BYTES": "2048", "INGEST_KAFKA_TIMEOUT": "750ms"}
	cfg := ingest.DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	cfg.RegisterSettings(s)
	if err := s.Parse([]string{"-ingest.kafka-timeout", "1s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || len(cfg.Tokens) != 2 || cfg.MaxBodyBytes != 2048 || cfg.KafkaTimeout != time.Second {
		t.Fatalf("config from env and flags = %+v", cfg)
	}
	env["INGEST_MAX_BODY_BYTES"], env["INGEST_KAFKA_TIMEOUT"] = "lots", "soon"
	cfg = ingest.DefaultConfig()
	s = envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	cfg.RegisterSettings(s)
	err := s.Parse(nil)
	for _, name := range []string{"INGEST_MAX_BODY_BYTES", "INGEST_KAFKA_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("bad %s: %v", name, err)
		}
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFixture(t, []string{"127.0.0.1:1"}, func(c *ingest.Config) { c.Addr = ln.Addr().String() })
	if err := f.svc.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run on a taken address: %v", err)
	}
}

// A body near the 4 MiB limit is more than the broker takes in one
// request (message.max.bytes, 1 MiB by default): the producer must split it.
func TestLargeBatchAccepted(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafkaPartitions(t, 1)
	f := newFixture(t, k.Brokers(), nil)
	var b strings.Builder
	n := 0
	for b.Len() < 3<<20 {
		b.WriteString(rating(fmt.Sprintf("big-%06d", n), fmt.Sprintf("user-%d", n%1000), fmt.Sprintf("m%d", n%5000), 3.5))
		b.WriteByte('\n')
		n++
	}
	r := f.do(t, "POST", "/v1/ratings", b.String())
	if r.status != http.StatusAccepted || len(r.EventID) != n {
		t.Fatalf("%d-event, %d-byte batch: status %d, %d ids: %.300s", n, b.Len(), r.status, len(r.EventID), r.body)
	}
	if got := written(ctx, t, k.Brokers()); got != int64(n) {
		t.Fatalf("%d records written, want %d", got, n)
	}
}

// An item without event_id gets one derived from its bytes: the same bytes
// posted again get the same id, so a retry is idempotent downstream.
func TestMissingEventIDDerivedFromBytes(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), nil)
	noID := `{"user_id":"u1","movie_id":"m1","rating":4,"ts":"2026-11-27T10:00:00Z"}`
	other := `{"user_id":"u1","movie_id":"m2","rating":4,"ts":"2026-11-27T10:00:00Z"}`

	first := f.do(t, "POST", "/v1/ratings", noID)
	again := f.do(t, "POST", "/v1/ratings", noID)
	batch := f.do(t, "POST", "/v1/ratings", "["+other+","+rating("given", "u2", "m1", 3)+"]")
	if first.status != 202 || again.status != 202 || batch.status != 202 {
		t.Fatalf("statuses %d %d %d: %s %s", first.status, again.status, batch.status, first.body, batch.body)
	}
	if !strings.HasPrefix(first.EventID[0], "auto-") || first.EventID[0] != again.EventID[0] {
		t.Fatalf("ids %v and %v: want the same auto- id for the same bytes", first.EventID, again.EventID)
	}
	if batch.EventID[0] == first.EventID[0] || !strings.HasPrefix(batch.EventID[0], "auto-") || batch.EventID[1] != "given" {
		t.Fatalf("batch ids %v", batch.EventID)
	}
	for _, m := range readAll(ctx, t, k.Brokers(), 4) {
		e, err := events.Decode(m.Value)
		if err != nil || e.EventID == "" {
			t.Fatalf("message %s: %v", m.Value, err)
		}
	}

	// In NDJSON the positions of the remaining bad items are unchanged.
	nd := noID + "\n\n" + `{"user_id":"u1","movie_id":"m3","rating":0.3,"ts":"2026-11-27T10:00:00Z"}` + "\n"
	r := f.do(t, "POST", "/v1/ratings", nd)
	if r.status != 400 || len(r.Items) != 1 || r.Items[0].Index != 1 || r.Items[0].Line != 3 || r.Items[0].Field != "rating" {
		t.Fatalf("NDJSON with a bad rating: %d %s", r.status, r.body)
	}
	// One object spread over lines.
	r = f.do(t, "POST", "/v1/swipes", "{\n  \"user_id\": \"u9\",\n  \"movie_id\": \"m1\",\n  \"swipe\": \"like\",\n  \"ts\": \"2026-11-27T10:00:00Z\"\n}\n")
	if r.status != 202 || len(r.EventID) != 1 || !strings.HasPrefix(r.EventID[0], "auto-") {
		t.Fatalf("multi-line object without event_id: %d %s", r.status, r.body)
	}
	// An empty event_id is an error, not a request for one.
	r = f.do(t, "POST", "/v1/ratings", `{"event_id":"","user_id":"u1","movie_id":"m1","rating":4,"ts":"2026-11-27T10:00:00Z"}`)
	if r.status != 400 || len(r.Items) != 1 || r.Items[0].Field != "event_id" {
		t.Fatalf("empty event_id: %d %s", r.status, r.body)
	}
}
