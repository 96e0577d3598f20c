package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
)

// proofStack is one in-process run of the binary (realMain, as `make run` runs
// it) on embedded brokers listening on free ports.
type proofStack struct {
	api, ingest, trainer, drift string // HTTP addresses
	brokers                     []string
	natsURL                     string
	stderr                      *embeddedtest.SyncBuffer
	client                      *http.Client
	// stop ends the run and waits for it (once; the test's cleanup calls
	// it too).
	stop func()
}

// startStack runs realMain with args until the test ends, every service on a
// free port and its data under a temporary folder, and waits for the
// embedded brokers' addresses and every selected service's /health. env
// overrides the process environment after the defaults.
func startStack(ctx context.Context, tb testing.TB, env map[string]string, args ...string) *proofStack {
	tb.Helper()
	s := &proofStack{
		api: listenAddr(tb), ingest: listenAddr(tb), trainer: listenAddr(tb),
		stderr: &embeddedtest.SyncBuffer{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
	}
	tb.Cleanup(s.client.CloseIdleConnections)
	vars := map[string]string{
		"SWIPEFLIX_DATA_DIR": tb.TempDir(), "KAFKA_BROKERS": "", "NATS_URL": "", "DATABASE_URL": "",
		"SWIPEFLIX_KAFKA_PORT": "0", "SWIPEFLIX_NATS_PORT": "0", "SWIPEFLIX_INGEST_TOKENS": "",
		"SWIPEFLIX_STARTER_RATINGS": "", "SWIPEFLIX_LOG_LEVEL": "warn",
		"API_ADDR": s.api, "INGEST_ADDR": s.ingest, "TRAINER_ADDR": s.trainer, "DRIFT_ADDR": listenAddr(tb),
	}
	for k, v := range env {
		vars[k] = v
	}
	s.drift = vars["DRIFT_ADDR"]
	for k, v := range vars {
		tb.Setenv(k, v)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- realMain(runCtx, args, nil, io.Discard, s.stderr) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("run after cancel: %v\n%s", err, s.stderr)
			}
		})
	}
	tb.Cleanup(s.stop)
	tb.Cleanup(func() {
		if tb.Failed() {
			log := s.stderr.String()
			if len(log) > 8000 {
				log = "..." + log[len(log)-8000:]
			}
			tb.Logf("the run's log:\n%s", log)
		}
	})

	kafkaRE, natsRE := regexp.MustCompile(`embedded kafka: (\S+)`), regexp.MustCompile(`embedded nats: +(\S+)`)
	if vars["KAFKA_BROKERS"] != "" {
		s.brokers = []string{vars["KAFKA_BROKERS"]}
	} else {
		waitUntil(ctx, tb, "the embedded kafka's address", func() bool { return kafkaRE.MatchString(s.stderr.String()) })
		s.brokers = []string{kafkaRE.FindStringSubmatch(s.stderr.String())[1]}
	}
	if vars["NATS_URL"] != "" {
		s.natsURL = vars["NATS_URL"]
	} else if targetSpec(args) != "ingest" { // ingest alone needs no NATS

		waitUntil(ctx, tb, "the embedded nats's address", func() bool { return natsRE.MatchString(s.stderr.String()) })
		s.natsURL = natsRE.FindStringSubmatch(s.stderr.String())[1]
	}
	for _, addr := range s.selected(args) {
		waitUntil(ctx, tb, addr+"/health", func() bool {
			resp, err := s.client.Get("http://" + addr + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return s
}

// selected lists the HTTP addresses of the targets args start.
// targetSpec is the -target value of a run's arguments ("all" without one).
func targetSpec(args []string) string {
	spec := "all"
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "-target="); ok {
			spec = v
		} else if a == "-target" && i+1 < len(args) {
			spec = args[i+1]
		}
	}
	return spec
}

func (s *proofStack) selected(args []string) []string {
	spec := targetSpec(args)
	byName := map[string]string{"api": s.api, "ingest": s.ingest, "trainer": s.trainer, "drift": s.drift}
	if spec == "all" {
		return []string{s.api, s.ingest, s.trainer, s.drift}
	}
	var out []string
	for _, name := range strings.Split(spec, ",") {
		if addr, ok := byName[strings.TrimSpace(name)]; ok {
			out = append(out, addr)
		}
	}
	return out
}

// proofAnswer is the part of a /predict answer the proofs look at.
type proofAnswer struct {
	ModelVersion    string `json:"model_version"`
	ColdStart       bool   `json:"cold_start"`
	Cached          bool   `json:"cached"`
	Recommendations []struct {
		MovieID string `json:"movie_id"`
	} `json:"recommendations"`
}

// movies lists the recommended movie ids in order.
func (a proofAnswer) movies() []string {
	out := make([]string, len(a.Recommendations))
	for i, r := range a.Recommendations {
		out[i] = r.MovieID
	}
	return out
}

// predict asks the api for user's top 10. A transport error or a status
// other than 200 is returned as an error (503 before the first model).
func (s *proofStack) predict(ctx context.Context, user string) (proofAnswer, error) {
	body := fmt.Sprintf(`{"user_id":%q,"top_k":10}`, user)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.api+"/predict", strings.NewReader(body))
	if err != nil {
		return proofAnswer{}, fmt.Errorf("predict %s: %w", user, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return proofAnswer{}, fmt.Errorf("predict %s: %w", user, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return proofAnswer{}, fmt.Errorf("predict %s: read: %w", user, err)
	}
	if resp.StatusCode != http.StatusOK {
		return proofAnswer{}, fmt.Errorf("predict %s: status %d: %s", user, resp.StatusCode, b)
	}
	var a proofAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return proofAnswer{}, fmt.Errorf("predict %s: decode %q: %w", user, b, err)
	}
	return a, nil
}

// postSwipes posts NDJSON swipe events to ingest and expects a 202.
func (s *proofStack) postSwipes(ctx context.Context, ndjson string) error {
	return s.postSwipesTo(ctx, "/v1/swipes", ndjson)
}

// postSwipesTo posts NDJSON events to one of ingest's routes.
func (s *proofStack) postSwipesTo(ctx context.Context, path, ndjson string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.ingest+path, strings.NewReader(ndjson))
	if err != nil {
		return fmt.Errorf("post swipes: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post swipes: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post swipes: status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// metric sums the samples of the metric name on addr's /metrics whose
// labels contain every one of labels (e.g. `result="applied"`).
func (s *proofStack) metric(ctx context.Context, addr, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", addr, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return sumSamples(resp.Body, name, labels...)
}

// sumSamples adds up the samples of the metric name in Prometheus text whose
// label set contains every one of labels.
func sumSamples(r io.Reader, name string, labels ...string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		rest, ok := strings.CutPrefix(text, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labelSet, value := "", rest
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("metrics line %d: unterminated labels: %q", line, text)
			}
			labelSet, value = rest[:end+1], rest[end+1:]
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(labelSet, l)
		}
		if !match {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return 0, fmt.Errorf("metrics line %d: no value: %q", line, text)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %d: value: %w", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	return sum, nil
}

// listenAddr is a free loopback address.
func listenAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUntil polls cond every 20 ms until it holds or ctx ends.
func waitUntil(ctx context.Context, tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("gave up waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestSumSamples(t *testing.T) {
	text := `# HELP swipeflix_trainer_events_total Events.
# TYPE swipeflix_trainer_events_total counter
swipeflix_trainer_events_total{result="applied"} 120
swipeflix_trainer_events_total{result="invalid"} 1
swipeflix_trainer_events_total{result="stale"} 3
swipeflix_trainer_events_total_extra 99
swipeflix_drift_score 0.25
`
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"swipeflix_trainer_events_total", nil, 124},
		{"swipeflix_trainer_events_total", []string{`result="applied"`}, 120},
		{"swipeflix_trainer_events_total", []string{`result="nope"`}, 0},
		{"swipeflix_drift_score", nil, 0.25},
	} {
		got, err := sumSamples(bytes.NewBufferString(text), tc.name, tc.labels...)
		if err != nil || got != tc.want {
			t.Errorf("sumSamples(%s, %v) = %v, %v; want %v", tc.name, tc.labels, got, err, tc.want)
		}
	}
	if _, err := sumSamples(bytes.NewBufferString("swipeflix_x{a=\"b\" 1\n"), "swipeflix_x"); err == nil ||
		!strings.Contains(err.Error(), "line 1") {
		t.Errorf("unterminated labels: err = %v, want one naming line 1", err)
	}
}
