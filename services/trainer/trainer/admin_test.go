package trainer

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
)

func TestQualityGateRejectsWorseModel(t *testing.T) {
	e := newEnv(t)
	evs, _ := synthEvents(40, 60, 900)
	e.publish(t, evs)
	// The fixed-settings path, whose gate compares with the serving model
	// on a holdout (a tuning refit would choose good settings itself).
	cfg := e.config()
	cfg.Tune = false
	good := e.start(t, cfg, nil)
	// A model that covers the whole log (the first may start before every
	// event is read; the load's last refit covers the rest).
	serving := e.waitCovering(t, "a model covering every event", len(evs))
	good.stop(t)

	// The same log and serving model, refitted with settings that shrink
	// every estimate to the global mean.
	cfg.GateTolerance = 0.02
	cfg.Model.BiasReg, cfg.Model.RatingReg, cfg.Model.Factors = 1e4, 1e4, 1
	r := e.start(t, cfg, nil)
	waitFor(t, "the serving model loaded", func() bool { return r.svc.version.Load() == serving.Version })

	if code, _ := post(t, r.url("/v1/retrain"), "", ""); code != http.StatusUnauthorized {
		t.Errorf("retrain without a token: %d, want 401", code)
	}
	if code, _ := post(t, r.url("/v1/retrain"), "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("retrain with a wrong token: %d, want 401", code)
	}
	if code, body := post(t, r.url("/v1/retrain?reason=test"), "test-admin-token", ""); code != http.StatusAccepted {
		t.Fatalf("retrain: %d %s", code, body)
	}
	waitFor(t, "refit rejected", func() bool {
		return counter(t, r.reg, "swipeflix_model_refits_total", "rejected") == 1
	})
	if m, _ := e.current(t); m.Version != serving.Version {
		t.Errorf("current is %d after a rejected refit, want %d", m.Version, serving.Version)
	}
	rec, err := e.store.Get(context.Background(), serving.Version+1)
	if err != nil {
		t.Fatalf("rejected candidate not registered: %v", err)
	}
	var params map[string]string
	var metrics map[string]float64
	if err := json.Unmarshal(rec.Parameters, &params); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rec.Metrics, &metrics); err != nil {
		t.Fatal(err)
	}
	if gp, ok := metrics["gate_passed"]; rec.Stage != store.StageCandidate || !strings.Contains(params["gate_reason"], "worse than serving") ||
		!ok || gp != 0 {
		t.Errorf("rejected candidate recorded as %s with params %s and metrics %s", rec.Stage, rec.Parameters, rec.Metrics)
	}
	if got := counter(t, r.reg, "swipeflix_model_refits_total", "published"); got != 0 {
		t.Errorf("published refits %v, want 0", got)
	}
}

func TestRollbackThroughAdminEndpoint(t *testing.T) {
	e := newEnv(t)
	evs, _ := synthEvents(40, 60, 900)
	e.publish(t, evs)
	deltas := e.watchDeltas(t)
	cfg := e.config()
	r := e.start(t, cfg, nil)
	waitFor(t, "model v1", func() bool { _, ok := e.current(t); return ok })

	// A retrain request over NATS publishes v2 (a few more events, same
	// seed: not worse; with nothing new it would publish nothing).
	e.publish(t, []events.Event{events.NewSwipe("more-1", "newcomer", "1", events.Like, time.Now(), "test")})
	waitFor(t, "the new event in the state", func() bool { return r.svc.pairs.Load() == int64(len(evs)+1) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.bus.RequestRetrain(ctx, modelbus.RetrainRequest{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "model v2", func() bool { m, _ := e.current(t); return m.Version == 2 })
	waitFor(t, "trainer on v2", func() bool { return r.svc.version.Load() == 2 })

	body := `{"by": "test", "reason": "v2 misbehaves"}`
	if code, _ := post(t, r.url("/v1/models/rollback"), "", body); code != http.StatusUnauthorized {
		t.Errorf("rollback without a token: %d, want 401", code)
	}
	waitFor(t, "v2 promoted in the registry", func() bool {
		rec, err := e.store.Current(context.Background())
		return err == nil && rec.Version == 2
	})
	code, resp := post(t, r.url("/v1/models/rollback"), "test-admin-token", body)
	if code != http.StatusOK {
		t.Fatalf("rollback: %d %s", code, resp)
	}
	if m, _ := e.current(t); m.Version != 1 {
		t.Fatalf("KV current is %d after the rollback, want 1", m.Version)
	}
	// The trainer follows: its deltas now apply to v1.
	waitFor(t, "trainer back on v1", func() bool { return r.svc.version.Load() == 1 })
	e.publish(t, []events.Event{events.NewSwipe("after-rollback", "rolled", "1", events.Like, time.Now(), "test")})
	waitFor(t, "delta after the rollback", func() bool { _, _, ok := deltas.user("rolled"); return ok })
	if _, v, _ := deltas.user("rolled"); v != 1 {
		t.Errorf("delta after the rollback is for version %d, want 1", v)
	}

	// And a promotion brings v2 back.
	code, resp = post(t, r.url("/v1/models/2/promote"), "test-admin-token", `{"by": "test"}`)
	if code != http.StatusOK {
		t.Fatalf("promote: %d %s", code, resp)
	}
	if m, _ := e.current(t); m.Version != 2 {
		t.Errorf("KV current is %d after promoting 2", m.Version)
	}
}

// descNames records the metric names registered through it.
type descNames struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *descNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}
func (d *descNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}
func (d *descNames) Unregister(prometheus.Collector) bool { return true }

func TestMetricsAreInTheContract(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/metrics.md")
	if err != nil {
		t.Skipf("metrics contract not found: %v", err)
	}
	rows := map[string]string{} // name -> "exported by" column
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 4 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`swipeflix_") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells[4]
		}
	}
	reg := &descNames{names: map[string]bool{}}
	if _, err := newMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewRetrying(nil, store.RetryingConfig{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	for name := range reg.names {
		if by, ok := rows[name]; !ok || !strings.Contains(by, "trainer") {
			t.Errorf("%s is registered but not listed for the trainer in docs/metrics.md", name)
		}
	}
	for name, by := range rows {
		if strings.Contains(by, "trainer") && !reg.names[name] {
			t.Errorf("docs/metrics.md lists %s for the trainer, but it is not registered", name)
		}
	}
}

// The model config the tests use must be valid for recommend.Fit.
var _ = recommend.DefaultConfig

// waitCovering waits until the current model covers n messages and returns
// its manifest.
func (e *env) waitCovering(t *testing.T, what string, n int) modelbus.Manifest {
	t.Helper()
	var m modelbus.Manifest
	waitFor(t, what, func() bool {
		var ok bool
		m, ok = e.current(t)
		return ok && coveredBy(m) == int64(n)
	})
	return m
}

// coveredBy is how many messages a manifest's model covers.
func coveredBy(m modelbus.Manifest) int64 {
	var n int64
	for _, o := range m.Offsets {
		n += o
	}
	return n
}
