package driftsvc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for field, mut := range map[string]func(*Config){
		"addr":              func(c *Config) { c.Addr = "" },
		"kafka brokers":     func(c *Config) { c.Brokers = nil },
		"interval":          func(c *Config) { c.Interval = 0 },
		"reference":         func(c *Config) { c.Reference = "last_week" },
		"reference period":  func(c *Config) { c.Reference = RefPeriod },
		"reference events":  func(c *Config) { c.ReferenceEvents = 0 },
		"current window":    func(c *Config) { c.CurrentEvents = 0 },
		"min current":       func(c *Config) { c.MinCurrent = 0 },
		"drift: p_value":    func(c *Config) { c.Drift.PValue = 2 },
		"drift: top_movies": func(c *Config) { c.Drift.TopMovies = 0 },
	} {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: err = %v, want one starting with the field name", field, err)
		}
		if _, err := New(c, Deps{}); err == nil {
			t.Errorf("%s: New accepted the bad config", field)
		}
	}
}

func TestConfigSettings(t *testing.T) {
	env := map[string]string{"DRIFT_INTERVAL": "5s", "DRIFT_CURRENT_SPAN": "1h", "DRIFT_RETRAIN_ON_DRIFT": "true"}
	c := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Interval != 5*time.Second || c.CurrentSpan != time.Hour || !c.RetrainOnDrift {
		t.Errorf("config from env: %+v", c)
	}
	env["DRIFT_REFERENCE_EVENTS"] = "many"
	s = envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse(nil); err == nil || !strings.Contains(err.Error(), "DRIFT_REFERENCE_EVENTS") {
		t.Errorf("bad DRIFT_REFERENCE_EVENTS: err = %v, want one naming the variable", err)
	}
}

// TestMetricsAreInContract checks every metric the service registers is
// listed in docs/metrics.md, the contract with dashboards and alerts.
func TestMetricsAreInContract(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Fatalf("read metrics contract: %v", err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(doc)))
	for sc.Scan() {
		if f := strings.Split(sc.Text(), "`"); strings.HasPrefix(sc.Text(), "| `") && len(f) > 1 {
			listed[f[1]] = true
		}
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Touch every vector so it shows up in Gather.
	m.observe(drift.Report{Features: []drift.FeatureResult{{Name: "rating"}}})
	m.consumer.SetLag(0, 0)
	m.consumer.DeadLettered("invalid")
	m.http.Observe("GET", "/health", 200, 0)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 9 {
		t.Errorf("gathered %d metric families, want 9", len(mfs))
	}
	for _, mf := range mfs {
		if !listed[mf.GetName()] {
			t.Errorf("metric %s is not in docs/metrics.md", mf.GetName())
		}
	}
}

// TestMetricsShareARegistry: the one binary runs every service on one
// registry; series another service registered first are reused, drift's
// own are not duplicated.
func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swipeflix_http_requests_total", Help: "HTTP requests served."},
		[]string{"service", "method", "endpoint", "status"})
	reg.MustRegister(other)
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatalf("drift metrics next to another service's: %v", err)
	}
	m.http.Observe("GET", "/health", 200, 0)
	if got := testutil.ToFloat64(other.WithLabelValues(serviceName, "GET", "/health", "200")); got != 1 {
		t.Errorf("drift's request on the HTTP counter another service registered: %v, want 1", got)
	}
	if _, err := newMetrics(reg); err == nil {
		t.Error("registering drift's own gauges twice: no error")
	}
}

// newOffline builds a service whose windows are fed directly (no Kafka),
// publishing to a real NATS server.
func newOffline(t *testing.T, cfg Config, store ReportStore) (*Service, *nats.Conn) {
	t.Helper()
	url := startNATS(t)
	cfg.NATSURL = url
	s, err := New(cfg, Deps{Store: store, Now: func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.initReference(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.nc = nc
	return s, nc
}

func TestReportWaitsForData(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 100, 100, 50
	s, _ := newOffline(t, cfg, nil)
	h := s.Handler()
	synth := drift.NewSynth(rand.New(rand.NewPCG(7, 7)), 200, 100, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, e := range synth.Events(120, drift.Shift{}) {
		s.add(e)
	}
	if _, err := s.Report(context.Background()); !errors.Is(err, ErrNotEnoughData) {
		t.Errorf("report with 20 current events: err = %v, want ErrNotEnoughData", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/drift/latest", nil))
	var body map[string]string
	if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Errorf("/v1/drift/latest before a report: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/report", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "No report yet") {
		t.Errorf("/report before a report: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/ready without a consumer: %d, want 503", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	var st status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || !st.ReferenceReady || st.CurrentEvents != 20 || st.Consumed != 120 {
		t.Errorf("/health: %s (%v)", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/nope: %d", rec.Code)
	}
}

// TestPinnedReference: a service started with reference=pinned compares
// against the stored report's reference, not its own first events.
func TestPinnedReference(t *testing.T) {
	synth := drift.NewSynth(rand.New(rand.NewPCG(9, 9)), 500, 300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := DefaultConfig()
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 800, 800, 800
	store := &MemoryStore{}

	first, _ := newOffline(t, cfg, store)
	for _, e := range synth.Events(1600, drift.Shift{}) {
		first.add(e)
	}
	base, err := first.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// The second run sees only shifted events. With first_n it would take
	// them as its reference and see no drift; pinned, it sees the shift.
	cfg.Reference = RefPinned
	second, _ := newOffline(t, cfg, store)
	if second.ref == nil || second.ref.Window != base.Reference {
		t.Fatalf("pinned reference window %+v, want %+v", second.ref, base.Reference)
	}
	for _, e := range synth.Events(800, drift.Shift{RatingDelta: -0.5}) {
		second.add(e)
	}
	rep, err := second.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := rep.Feature(drift.FeatureRating); !f.Drifted {
		t.Errorf("rating against the pinned reference: %+v, want drifted", f)
	}
	if rep.Reference != base.Reference {
		t.Errorf("report reference %+v, want the pinned %+v", rep.Reference, base.Reference)
	}
	if _, err := second.Report(context.Background()); !errors.Is(err, ErrNoNewEvents) {
		t.Errorf("second report without new events: err = %v, want ErrNoNewEvents", err)
	}
}

func TestPeriodReference(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synth := drift.NewSynth(rand.New(rand.NewPCG(3, 3)), 300, 100, start)
	cfg := DefaultConfig()
	cfg.Reference = RefPeriod
	cfg.ReferenceFrom, cfg.ReferenceTo = start.Add(100*time.Second), start.Add(400*time.Second)
	cfg.CurrentEvents, cfg.MinCurrent = 200, 100
	s, _ := newOffline(t, cfg, nil)
	for _, e := range synth.Events(700, drift.Shift{}) { // one event a second
		s.add(e)
	}
	rep, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference.Events != 300 || !rep.Reference.From.Equal(cfg.ReferenceFrom) || rep.Current.Events != 200 {
		t.Errorf("reference %+v, current %+v; want 300 events from %s and 200 current",
			rep.Reference, rep.Current, cfg.ReferenceFrom)
	}
}

func TestHistogramBinsWideNumericFeatures(t *testing.T) {
	ref := drift.Distribution{Kind: drift.Numerical}
	for v := 1; v <= 100; v++ {
		ref.Values = append(ref.Values, float64(v))
		ref.Counts = append(ref.Counts, 1)
	}
	cur := drift.Distribution{Kind: drift.Numerical, Values: []float64{1, 100}, Counts: []float64{3, 1}}
	labels, rs, cs := histogram(ref, cur)
	if len(labels) != maxNumericBins {
		t.Fatalf("%d bins, want %d", len(labels), maxNumericBins)
	}
	// 100 values in 20 equal bins: 5% of the reference each; the current
	// puts 75% in the first bin and 25% in the last.
	for i := range rs {
		if d := rs[i] - 0.05; d > 1e-9 || d < -1e-9 {
			t.Errorf("reference bin %d = %v, want 0.05", i, rs[i])
		}
	}
	if cs[0] != 0.75 || cs[maxNumericBins-1] != 0.25 {
		t.Errorf("current bins %v", cs)
	}
}

func TestRegisterSettingsFlags(t *testing.T) {
	c := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(string) string { return "" })
	c.RegisterSettings(s)
	err := s.Parse([]string{"-drift.reference=period",
		"-drift.reference-from=2026-01-01T00:00:00Z", "-drift.reference-to=2026-01-02T00:00:00Z",
		"-drift.current-span=2h", "-drift.retrain-on-drift"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Reference != RefPeriod || c.ReferenceTo.Sub(c.ReferenceFrom) != 24*time.Hour ||
		c.CurrentSpan != 2*time.Hour || !c.RetrainOnDrift {
		t.Errorf("flags gave %+v", c)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s = envconfig.NewSettings(fs, func(string) string { return "" })
	c.RegisterSettings(s)
	if err := s.Parse([]string{"-drift.reference-from=yesterday"}); err == nil {
		t.Error("a reference start that is not RFC 3339: no error")
	}
}

func TestLoadGenres(t *testing.T) {
	path := filepath.Join(t.TempDir(), "movies.csv")
	csv := "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n2,Heat (1995),Action|Crime\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := LoadGenres(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Genres("2"); strings.Join(got, "|") != "Action|Crime" {
		t.Errorf("genres of 2 = %v", got)
	}
	if got := g.Genres("404"); got != nil {
		t.Errorf("genres of an unknown movie = %v, want none", got)
	}
	if err := os.WriteFile(path, []byte("movieId,title,genres\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGenres(path); err == nil || !strings.Contains(err.Error(), "load genres") {
		t.Errorf("broken movies file: err = %v", err)
	}
}
