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
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for field, mut := range map[string]func(*Config){
		"addr":                      func(c *Config) { c.Addr = "" },
		"kafka brokers":             func(c *Config) { c.Brokers = nil },
		"interval":                  func(c *Config) { c.Interval = 0 },
		"reference":                 func(c *Config) { c.Reference = "last_week" },
		"reference ":                func(c *Config) { c.Reference = "first_n" },
		"catalog refresh":           func(c *Config) { c.CatalogRefresh = 0 },
		"reference period":          func(c *Config) { c.Reference = RefPeriod },
		"reference events":          func(c *Config) { c.ReferenceEvents = 0 },
		"current window":            func(c *Config) { c.CurrentEvents = 0 },
		"min current":               func(c *Config) { c.MinCurrent = 0 },
		"drift: p_value":            func(c *Config) { c.Drift.PValue = 2 },
		"drift: popularity_buckets": func(c *Config) { c.Drift.PopularityBuckets = 0 },
	} {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), strings.TrimSpace(field)+":") {
			t.Errorf("%s: err = %v, want one starting with the field name", field, err)
		}
		if _, err := New(c, Deps{Store: &MemoryStore{}, Genres: GenreMap{}}); err == nil {
			t.Errorf("%s: New accepted the bad config", field)
		}
	}
	// The removed modes say what replaced them.
	c := DefaultConfig()
	c.Reference = "first_n"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "removed") || !strings.Contains(err.Error(), RefModel) {
		t.Errorf("reference first_n: err = %v, want one saying it was removed for %s", err, RefModel)
	}
}

// TestNewRefusesMissingDeps: the one binary once built drift without its
// store and catalog, and it ran in memory without genres, silently. A
// missing store or catalog is now an error at build time.
func TestNewRefusesMissingDeps(t *testing.T) {
	if _, err := New(DefaultConfig(), Deps{Genres: GenreMap{}}); !errors.Is(err, ErrNoStore) {
		t.Errorf("no store: err = %v, want ErrNoStore", err)
	}
	if _, err := New(DefaultConfig(), Deps{Store: &MemoryStore{}}); !errors.Is(err, ErrNoCatalog) {
		t.Errorf("no catalog: err = %v, want ErrNoCatalog", err)
	}
	if _, err := New(DefaultConfig(), Deps{Store: &MemoryStore{}, Genres: GenreMap{}}); err != nil {
		t.Errorf("explicit in-memory store and empty catalog: %v", err)
	}
}

func TestConfigSettings(t *testing.T) {
	env := map[string]string{"DRIFT_INTERVAL": "5s", "DRIFT_CURRENT_SPAN": "1h", "DRIFT_RETRAIN_ON_DRIFT": "true",
		"DRIFT_SEED": "99", "DRIFT_REFERENCE": "period"}
	c := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Interval != 5*time.Second || c.CurrentSpan != time.Hour || !c.RetrainOnDrift || c.Seed != 99 || c.Reference != RefPeriod {
		t.Errorf("config from env: %+v", c)
	}
	env["DRIFT_SEED"] = "-1"
	s = envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse(nil); err == nil || !strings.Contains(err.Error(), "DRIFT_SEED") {
		t.Errorf("bad DRIFT_SEED: err = %v, want one naming the variable", err)
	}
	env["DRIFT_SEED"], env["DRIFT_REFERENCE_EVENTS"] = "", "many"
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
	if store == nil {
		store = &MemoryStore{}
	}
	nc := embeddedtest.Connect(t, url)
	s, err := New(cfg, Deps{Store: store, Genres: GenreMap{}, NATS: nc,
		Now: func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

// feed hands events to the live path as records of partition 0 from
// offset first on.
func feed(s *Service, first int64, evs []events.Event) {
	for i, e := range evs {
		s.add(drift.Record{Pos: drift.Position{Partition: 0, Offset: first + int64(i)}, Event: e})
	}
}

func TestReportWaitsForData(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 100, 100, 50
	s, _ := newOffline(t, cfg, nil)
	h := s.Handler()
	synth := drift.NewSynth(rand.New(rand.NewPCG(7, 7)), 200, 100, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	evs := synth.Events(120, drift.Shift{})
	feed(s, 0, evs)
	if _, err := s.Report(context.Background()); !errors.Is(err, ErrNotEnoughData) {
		t.Errorf("report without a serving model: err = %v, want ErrNotEnoughData", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/report", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "waiting for\na serving model") {
		t.Errorf("/report before a model: %d %s", rec.Code, rec.Body)
	}
	// A model covering the first 100 events (offsets 0..99) makes them the
	// reference; 20 remain in the current window, below MinCurrent.
	s.install(drift.NewReference(evs[:100], 10, 1), drift.Coverage{0: 100}, 1)
	if _, err := s.Report(context.Background()); !errors.Is(err, ErrNotEnoughData) {
		t.Errorf("report with 20 current events: err = %v, want ErrNotEnoughData", err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/drift/latest", nil))
	var body map[string]string
	if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Errorf("/v1/drift/latest before a report: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/report", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "No report yet") || !strings.Contains(rec.Body.String(), "20 of the 50") {
		t.Errorf("/report before a report: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/ready without a consumer: %d, want 503", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	var st status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || !st.ReferenceReady || st.CurrentEvents != 20 ||
		st.Consumed != 120 || st.ModelVersion != 1 || st.ReferencePopulation != 100 || !st.ReportsInMemory {
		t.Errorf("/health: %s (%v)", rec.Body, err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/nope: %d", rec.Code)
	}

	// With enough current events a report is made, once per change.
	feed(s, 120, synth.Events(40, drift.Shift{}))
	rep, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.ModelVersion != 1 || rep.Reference.Population != 100 || rep.Current.Events != 60 {
		t.Errorf("report: model %d, reference %+v, current %+v", rep.ModelVersion, rep.Reference, rep.Current)
	}
	if _, err := s.Report(context.Background()); !errors.Is(err, ErrNoNewEvents) {
		t.Errorf("second report without new events: err = %v, want ErrNoNewEvents", err)
	}
}

// TestCoveredEventsLeaveTheCurrentWindow: the current window holds the
// events the serving model has not covered; a refit that covers them
// moves them to the reference side, and later events refill the window.
func TestCoveredEventsLeaveTheCurrentWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 500, 300, 100
	s, _ := newOffline(t, cfg, nil)
	synth := drift.NewSynth(rand.New(rand.NewPCG(8, 8)), 300, 100, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	evs := synth.Events(1000, drift.Shift{})
	s.install(drift.NewReference(evs[:500], 10, 1), drift.Coverage{0: 500}, 1)
	feed(s, 0, evs[:800]) // the first 500 are covered: the live path skips them
	if n := s.status().CurrentEvents; n != 300 {
		t.Fatalf("current window %d events, want 300 (offsets 500..799)", n)
	}
	s.install(drift.NewReference(evs[:700], 10, 1), drift.Coverage{0: 700}, 2)
	if n := s.status().CurrentEvents; n != 100 {
		t.Errorf("after a model covering 700 events: current window %d, want 100 (offsets 700..799)", n)
	}
	feed(s, 800, evs[800:])
	rep, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.ModelVersion != 2 || rep.Current.Events != 300 || !rep.Current.From.Equal(evs[700].TS) {
		t.Errorf("report: model %d, current %+v; want model 2 and the 300 events from offset 700", rep.ModelVersion, rep.Current)
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
		"-drift.current-span=2h", "-drift.retrain-on-drift", "-drift.seed=7", "-drift.catalog-refresh=5m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Reference != RefPeriod || c.ReferenceTo.Sub(c.ReferenceFrom) != 24*time.Hour ||
		c.CurrentSpan != 2*time.Hour || !c.RetrainOnDrift || c.Seed != 7 || c.CatalogRefresh != 5*time.Minute {
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
	if n, err := g.Refresh(context.Background()); n != 2 || err != nil {
		t.Errorf("refresh of a movies file: %d movies, %v", n, err)
	}
	if err := os.WriteFile(path, []byte("movieId,title,genres\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGenres(path); err == nil || !strings.Contains(err.Error(), "load genres") {
		t.Errorf("broken movies file: err = %v", err)
	}
}
