package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

// runRetrying starts r.Run and stops it at cleanup.
func runRetrying(t testing.TB, r *store.Retrying) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func fastRetry(reg prometheus.Registerer, spool string) store.RetryingConfig {
	return store.RetryingConfig{
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		AttemptTimeout: 3 * time.Second, Registerer: reg, SpoolPath: spool,
	}
}

func waitFlush(t testing.TB, r *store.Retrying) {
	t.Helper()
	// Generous: this bounds a hang, it does not measure speed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetryingPostgresOutage writes through a proxy that goes away and comes
// back: writes made during the outage are queued, the gauge shows it, and
// every one of them lands, in order, when the database returns.
func TestRetryingPostgresOutage(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	p, proxied := pgtest.ViaProxy(t, dbURL)
	s := storetest.Open(t, store.Config{DatabaseURL: proxied})
	direct := storetest.Open(t, store.Config{DatabaseURL: dbURL})

	reg := prometheus.NewRegistry()
	r, err := store.NewRetrying(s, fastRetry(reg, ""))
	if err != nil {
		t.Fatal(err)
	}
	runRetrying(t, r)
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || mfs[0].GetName() != "swipeflix_registry_degraded" {
			t.Fatalf("gather: %v %v", mfs, err)
		}
		return mfs[0].GetMetric()[0].GetGauge().GetValue()
	}

	if err := r.Register(ctx, storetest.Record(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Promote(ctx, 1, "trainer", "gate"); err != nil {
		t.Fatal(err)
	}
	if r.Degraded() || gauge() != 0 {
		t.Fatalf("degraded while the database is up")
	}

	p.SetDown(true)
	for v := int64(2); v <= 4; v++ {
		if err := r.Register(ctx, storetest.Record(v)); err != nil {
			t.Fatalf("register %d during outage: %v", v, err)
		}
	}
	if err := r.Promote(ctx, 4, "trainer", "gate"); err != nil {
		t.Fatal(err)
	}
	rep := store.DriftReport{GeneratedAt: time.Now(), Score: 0.25, Report: json.RawMessage(`{"score":0.25}`)}
	if err := r.SaveDriftReport(ctx, rep); err != nil {
		t.Fatal(err)
	}
	// Invalid input is refused at once, outage or not.
	if err := r.Register(ctx, store.ModelRecord{Version: 9}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("invalid record during outage: %v, want ErrInvalid", err)
	}
	if !r.Degraded() || gauge() != 1 {
		t.Errorf("not degraded during outage (pending %d, gauge %v)", r.Pending(), gauge())
	}
	if _, err := direct.Get(ctx, 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("model 2 reached the database through a downed proxy: %v", err)
	}

	p.SetDown(false)
	waitFlush(t, r)
	if r.Degraded() || gauge() != 0 {
		t.Errorf("still degraded after recovery")
	}
	ms, err := direct.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(ms); !equal(got, []int64{4, 3, 2, 1}) {
		t.Errorf("registry after recovery holds %v, want [4 3 2 1]", got)
	}
	cur, err := direct.Current(ctx)
	if err != nil || cur.Version != 4 {
		t.Errorf("current after recovery = %d, %v; want 4", cur.Version, err)
	}
	if st := mustGet(t, direct, 1).Stage; st != store.StageArchived {
		t.Errorf("model 1 is %s, want archived", st)
	}
	if latest, err := direct.LatestDriftReport(ctx); err != nil || latest.Score != 0.25 {
		t.Errorf("drift report after recovery: %+v, %v", latest, err)
	}
}

// TestRetryingSpoolSurvivesRestart queues writes during an outage, stops the
// process's Retrying, and lets a new one (same spool file) deliver them.
func TestRetryingSpoolSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	p, proxied := pgtest.ViaProxy(t, dbURL)
	s := storetest.Open(t, store.Config{DatabaseURL: proxied})
	spool := filepath.Join(t.TempDir(), "registry.spool")

	p.SetDown(true)
	first, err := store.NewRetrying(s, fastRetry(nil, spool))
	if err != nil {
		t.Fatal(err)
	}
	stop := runRetrying(t, first)
	for v := int64(1); v <= 3; v++ {
		if err := first.Register(ctx, storetest.Record(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Promote(ctx, 2, "trainer", ""); err != nil {
		t.Fatal(err)
	}
	stop() // the trainer shuts down with the database still away

	second, err := store.NewRetrying(s, fastRetry(prometheus.NewRegistry(), spool))
	if err != nil {
		t.Fatal(err)
	}
	if second.Pending() != 4 || !second.Degraded() {
		t.Fatalf("restarted queue holds %d writes, want 4", second.Pending())
	}
	p.SetDown(false)
	runRetrying(t, second)
	waitFlush(t, second)
	ms, err := s.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(ms); !equal(got, []int64{3, 2, 1}) {
		t.Errorf("registry holds %v, want [3 2 1]", got)
	}
	if cur, err := s.Current(ctx); err != nil || cur.Version != 2 {
		t.Errorf("current = %d, %v; want 2", cur.Version, err)
	}
	if _, err := os.Stat(spool); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spool left after the queue drained: %v", err)
	}
}

// TestRetryingQueueBound: a full queue refuses the write instead of growing.
func TestRetryingQueueBound(t *testing.T) {
	ctx := context.Background()
	p, proxied := pgtest.ViaProxy(t, pgtest.NewDatabase(t))
	s := storetest.Open(t, store.Config{DatabaseURL: proxied})
	cfg := fastRetry(nil, "")
	cfg.QueueSize = 2
	r, err := store.NewRetrying(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDown(true)
	for v := int64(1); v <= 2; v++ {
		if err := r.Register(ctx, storetest.Record(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register(ctx, storetest.Record(3)); !errors.Is(err, store.ErrQueueFull) {
		t.Errorf("third write into a queue of 2: %v, want ErrQueueFull", err)
	}
}

func TestRetryingCorruptSpool(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "registry.spool")
	for _, body := range []string{`[{"kind":`, `[{"kind":"promote","version":0}]`} {
		if err := os.WriteFile(spool, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := store.NewRetrying(storetest.OpenSQLite(t), store.RetryingConfig{SpoolPath: spool})
		if err == nil || !strings.Contains(err.Error(), spool) {
			t.Errorf("spool %s: error %v, want one naming the file", body, err)
		}
	}
}

// TestRetryingConflictNotQueued: a conflict is the caller's to see, not a
// reason to retry.
func TestRetryingConflictNotQueued(t *testing.T) {
	ctx := context.Background()
	s := storetest.OpenSQLite(t)
	reg := prometheus.NewRegistry()
	r, err := store.NewRetrying(s, store.RetryingConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(ctx, storetest.Record(1)); err != nil {
		t.Fatal(err)
	}
	other := storetest.Record(1)
	other.ObjectName = "elsewhere"
	if err := r.Register(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("conflicting register: %v, want ErrConflict", err)
	}
	if err := r.Promote(ctx, 7, "x", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("promote missing: %v, want ErrNotFound", err)
	}
	if r.Degraded() {
		t.Error("degraded after permanent errors")
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "swipeflix_registry_degraded" ||
		mfs[0].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("gathered %v, %v; want swipeflix_registry_degraded 0", mfs, err)
	}
}

func mustGet(t testing.TB, s *store.Store, v int64) store.ModelRecord {
	t.Helper()
	r, err := s.Get(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func versionsOf(ms []store.ModelRecord) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDegradedGaugeInMetricsContract keeps the gauge's name in step with
// docs/metrics.md, which the dashboards and alert rules are checked against.
func TestDegradedGaugeInMetricsContract(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Skipf("metrics contract not found: %v", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := store.NewRetrying(storetest.OpenSQLite(t), store.RetryingConfig{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.Contains(string(doc), "`"+mf.GetName()+"`") {
			t.Errorf("%s is not listed in docs/metrics.md", mf.GetName())
		}
	}
	if len(mfs) == 0 {
		t.Error("nothing registered")
	}
}

// TestRetryingDatabaseDownAtStart: the trainer starts while Postgres is
// away. Open succeeds (TolerateUnavailable), writes queue, and when the
// database answers the schema is migrated and every write lands.
func TestRetryingDatabaseDownAtStart(t *testing.T) {
	ctx := context.Background()
	p, proxied := pgtest.ViaProxy(t, pgtest.EmptyDatabase(t))
	p.SetDown(true)
	if _, err := store.Open(ctx, store.Config{DatabaseURL: proxied}); err == nil {
		t.Fatal("open without TolerateUnavailable succeeded with the database down")
	}
	s, err := store.Open(ctx, store.Config{DatabaseURL: proxied, TolerateUnavailable: true})
	if err != nil {
		t.Fatalf("open tolerating an outage: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Get(ctx, 1); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("get during the outage: %v, want a connection error", err)
	}
	r, err := store.NewRetrying(s, fastRetry(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	runRetrying(t, r)
	if err := r.Register(ctx, storetest.Record(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Promote(ctx, 1, "trainer", ""); err != nil {
		t.Fatal(err)
	}
	if !r.Degraded() {
		t.Error("not degraded with the database down")
	}
	p.SetDown(false)
	waitFlush(t, r)
	cur, err := s.Current(ctx)
	if err != nil || cur.Version != 1 {
		t.Errorf("current after recovery = %d, %v; want 1", cur.Version, err)
	}
	ms, _ := store.Migrations(store.Postgres)
	if v, err := s.SchemaVersion(ctx); err != nil || v != ms[len(ms)-1].Version {
		t.Errorf("schema version %d, %v after lazy migration", v, err)
	}
}
