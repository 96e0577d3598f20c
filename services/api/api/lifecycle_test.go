package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/svcmain/svcmaintest"
)

// harness is an embedded NATS server with JetStream, a publisher on the
// model bus (the trainer's side) and the api serving real HTTP on a random
// port with its own NATS connection.
type harness struct {
	bus *modelbus.Bus
	s   *Service
	reg *prometheus.Registry
	url string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith lets wrap put a fault injector between the api and its
// bus connection; nil means the api dials NATS itself.
func newHarnessWith(t *testing.T, wrap func(*modelbus.Bus) Source) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded NATS server")
	}
	n := embeddedtest.StartTestNATS(t)
	bus, err := modelbus.Connect(context.Background(), n.URL(), nil)
	if err != nil {
		t.Fatalf("connect publisher: %v", err)
	}
	t.Cleanup(bus.Close)
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.NATSURL = n.URL()
	cfg.RetryBackoff = 50 * time.Millisecond
	deps := Deps{Registerer: reg, Gatherer: reg}
	if wrap != nil {
		apiBus, err := modelbus.Connect(context.Background(), n.URL(), nil)
		if err != nil {
			t.Fatalf("connect api: %v", err)
		}
		t.Cleanup(apiBus.Close)
		deps.Source = wrap(apiBus)
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{bus: bus, s: s, reg: reg}
}

// start runs the api until the test ends and checks it stops cleanly.
func (h *harness) start(t *testing.T) {
	t.Helper()
	h.url = "http://" + svcmaintest.Serve(t, h.s.Serve)
}

func (h *harness) publish(t *testing.T, version int64, snapshot []byte) modelbus.Manifest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := h.bus.Publish(ctx, modelbus.Manifest{Version: version, CreatedAt: time.Now()}, snapshot)
	if err != nil {
		t.Fatalf("publish model %d: %v", version, err)
	}
	return m
}

func (h *harness) waitServing(t *testing.T, version int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("model %d to be served", version), func() bool { return h.s.servingVersion() == version })
}

func (h *harness) waitRefused(t *testing.T, n float64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%v refused snapshots", n), func() bool { return testutil.ToFloat64(h.s.metrics.swapRefused) == n })
}

func (h *harness) predict(t *testing.T, body string) (int, predictAnswer) {
	t.Helper()
	resp, err := http.Post(h.url+"/predict", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /predict: %v", err)
	}
	defer resp.Body.Close()
	var a predictAnswer
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("POST /predict: %v: %s", err, raw)
		}
	}
	return resp.StatusCode, a
}

func TestWaitsForTheFirstModel(t *testing.T) {
	h := newHarness(t)
	h.start(t)
	waitFor(t, "the api to listen", func() bool {
		resp, err := http.Get(h.url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if status := httpGetJSON(t, h.url+"/ready", nil); status != 503 {
		t.Fatalf("ready with no model published: %d", status)
	}
	if status, _ := h.predict(t, `{"user_id": "u1"}`); status != 503 {
		t.Fatalf("predict with no model published: %d", status)
	}
	h.publish(t, 1, snapshotBytes(t, 1))
	h.waitServing(t, 1)
	var ready map[string]any
	if status := httpGetJSON(t, h.url+"/ready", &ready); status != 200 || ready["model_version"] != "v1" {
		t.Fatalf("ready after v1: %d %v", status, ready)
	}
}

// TestLifecycle: the current model is loaded at start, a new one swaps in,
// each kind of bad snapshot is refused while the old model keeps serving,
// and a KV `current` change back to an older manifest rolls back.
func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	m1 := h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)

	m2 := h.publish(t, 2, snapshotBytes(t, 2))
	h.waitServing(t, 2)

	flipped := snapshotBytes(t, 6)
	flipped[len(flipped)/2] ^= 0x40
	mismatch := m2
	mismatch.Version, mismatch.SHA256 = 7, strings.Repeat("0", 64)
	bad := []struct {
		name    string
		publish func()
	}{
		{"not a snapshot", func() { h.publish(t, 3, []byte("definitely not a model")) }},
		{"empty", func() { h.publish(t, 4, nil) }},
		{"snapshot of another version", func() { h.publish(t, 5, snapshotBytes(t, 50)) }},
		{"flipped byte", func() { h.publish(t, 6, flipped) }},
		{"sha256 differs from the manifest", func() {
			if err := h.bus.SetCurrent(ctxTimeout(t), mismatch); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, b := range bad {
		b.publish()
		h.waitRefused(t, float64(i+1))
		if status, a := h.predict(t, `{"user_id": "u3", "top_k": 3}`); status != 200 || a.ModelVersion != "v2" {
			t.Fatalf("after %s: predict %d from %q, want 200 from v2", b.name, status, a.ModelVersion)
		}
	}

	if err := h.bus.SetCurrent(ctxTimeout(t), m1); err != nil {
		t.Fatalf("roll back to v1: %v", err)
	}
	h.waitServing(t, 1)
	if status, a := h.predict(t, `{"user_id": "u3"}`); status != 200 || a.ModelVersion != "v1" {
		t.Fatalf("after rollback: predict %d from %q", status, a.ModelVersion)
	}
	wantVersion := `
# HELP swipeflix_model_version_info 1 for the model version a service serves or trains on.
# TYPE swipeflix_model_version_info gauge
swipeflix_model_version_info{service="api",version="1"} 1
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(wantVersion), "swipeflix_model_version_info"); err != nil {
		t.Errorf("after the rollback, want only the serving version: %v", err)
	}
	if got := testutil.ToFloat64(h.s.metrics.swapOK); got != 3 {
		t.Errorf("swaps ok = %v, want 3 (v1, v2, rollback to v1)", got)
	}
	var info struct {
		ModelVersion string            `json:"model_version"`
		Manifest     modelbus.Manifest `json:"manifest"`
	}
	if status := httpGetJSON(t, h.url+"/v1/model", &info); status != 200 || info.ModelVersion != "v1" || info.Manifest.SHA256 != m1.SHA256 {
		t.Errorf("/v1/model after rollback: %d %+v", status, info)
	}
}

// TestDeltas: a delta for the serving version changes /predict; one for
// another version does not touch the serving model.
func TestDeltas(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)

	// Asked twice, so the cold-start answer is cached: the delta must
	// invalidate it.
	for range 2 {
		if _, a := h.predict(t, `{"user_id": "newbie", "top_k": 5}`); !a.ColdStart {
			t.Fatal("newbie is not a cold start before any delta")
		}
	}
	fold := testModel(t, 1)
	delta := func(base, seq int64, user string) []byte {
		ud := fold.FoldUser(user, []recommend.Rated{{Movie: "R1", Value: 5}, {Movie: "R2", Value: 5}, {Movie: "R3", Value: 4.5}, {Movie: "A1", Value: 1}})
		b, err := recommend.EncodeDelta(recommend.Delta{BaseVersion: base, Seq: seq, NewestEventMillis: time.Now().UnixMilli(), Users: []recommend.UserDelta{ud}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A delta for a version not served (held for its snapshot, which never
	// comes), then one for the serving version:
	// NATS keeps one publisher's order, so once the second is applied the
	// first has been seen. Re-send until the api's subscription is up.
	ghost, newbie := delta(9, 1, "ghost"), delta(1, 1, "newbie")
	waitFor(t, "the delta to be applied", func() bool {
		ctx := ctxTimeout(t)
		if err := h.bus.PublishDelta(ctx, 9, ghost); err != nil {
			t.Fatal(err)
		}
		if err := h.bus.PublishDelta(ctx, 1, newbie); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		return testutil.ToFloat64(h.s.metrics.deltas) > 0
	})
	status, a := h.predict(t, `{"user_id": "newbie", "top_k": 5}`)
	if status != 200 || a.ColdStart {
		t.Fatalf("newbie after the delta: %d cold=%v", status, a.ColdStart)
	}
	for _, r := range a.Recommendations {
		if r.MovieID == "R1" || r.MovieID == "R2" || r.MovieID == "R3" || r.MovieID == "A1" {
			t.Errorf("recommended %s, which newbie rated", r.MovieID)
		}
		if !strings.HasPrefix(r.MovieID, "R") {
			t.Errorf("newbie likes romance, got %s", r.MovieID)
		}
	}
	if _, a := h.predict(t, `{"user_id": "ghost"}`); !a.ColdStart {
		t.Error("a delta for version 9 was applied to version 1")
	}
	if n := testutil.CollectAndCount(h.reg, "swipeflix_freshness_seconds"); n != 1 {
		t.Errorf("freshness series: %d", n)
	}
	var info struct {
		DeltasApplied int64 `json:"deltas_applied"`
	}
	if httpGetJSON(t, h.url+"/v1/model", &info); info.DeltasApplied < 1 {
		t.Errorf("/v1/model reports %d deltas applied", info.DeltasApplied)
	}
}

// TestSwapUnderLoad: concurrent /predict traffic over real HTTP while 20
// snapshots are swapped in gets no answer other than 2xx.
func TestSwapUnderLoad(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		ok, fail atomic.Int64
		mu       sync.Mutex
		versions = map[string]int{}
		failures []string
	)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				body := fmt.Sprintf(`{"user_id": "u%d", "top_k": 5}`, (g*7+i)%45) // u40..u44 are cold starts
				resp, err := client.Post(h.url+"/predict", "application/json", bytes.NewBufferString(body))
				if err != nil {
					fail.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				var a predictAnswer
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &a) != nil || len(a.Recommendations) != 5 {
					fail.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, raw))
					mu.Unlock()
					continue
				}
				ok.Add(1)
				mu.Lock()
				versions[a.ModelVersion]++
				mu.Unlock()
			}
		})
	}
	for v := int64(2); v <= 21; v++ {
		before := ok.Load()
		h.publish(t, v, snapshotBytes(t, v))
		h.waitServing(t, v)
		// Let traffic hit each model, so swaps happen under load.
		waitFor(t, "requests on the new model", func() bool { return ok.Load() > before+4 || fail.Load() > 0 })
	}
	stop.Store(true)
	wg.Wait()

	if n := fail.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during 20 swaps; first: %v", n, n+ok.Load(), failures[0])
	}
	if got := testutil.ToFloat64(h.s.metrics.swapOK); got != 21 {
		t.Errorf("swaps ok = %v, want 21", got)
	}
	if len(versions) < 10 {
		t.Errorf("answers came from %d model versions only: %v", len(versions), versions)
	}
	t.Logf("%d requests, all 2xx, over %d model versions", ok.Load(), len(versions))
}

// ctxTimeout bounds a publish: nats.go flushes only with a deadline.
func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// flakyFetch fails the first failures downloads as a network error would.
type flakyFetch struct {
	*modelbus.Bus
	failures atomic.Int64
	calls    atomic.Int64
}

func (f *flakyFetch) Fetch(ctx context.Context, m modelbus.Manifest) ([]byte, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return nil, fmt.Errorf("fetch model %d: get object: %w", m.Version, io.ErrUnexpectedEOF)
	}
	return f.Bus.Fetch(ctx, m)
}

func TestDownloadErrorsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int64
		served   int64
		refused  float64
	}{
		{"recovers", maxLoadAttempts - 1, 1, 0},
		{"gives up", maxLoadAttempts, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyFetch{}
			f.failures.Store(tc.failures)
			h := newHarnessWith(t, func(b *modelbus.Bus) Source { f.Bus = b; return f })
			h.publish(t, 1, snapshotBytes(t, 1))
			h.start(t)
			waitFor(t, "the loader to finish", func() bool {
				return h.s.servingVersion() == 1 || testutil.ToFloat64(h.s.metrics.swapRefused) > 0
			})
			if got := h.s.servingVersion(); got != tc.served {
				t.Errorf("serving %d, want %d", got, tc.served)
			}
			if got := testutil.ToFloat64(h.s.metrics.swapRefused); got != tc.refused {
				t.Errorf("refused %v, want %v", got, tc.refused)
			}
			if got := f.calls.Load(); got != maxLoadAttempts {
				t.Errorf("%d downloads, want %d", got, maxLoadAttempts)
			}
		})
	}
}

func (s *Service) heldDeltas() int {
	s.deltaMu.Lock()
	defer s.deltaMu.Unlock()
	return s.earlyN
}

// TestEarlyDeltasApplyAtSwap: deltas for a snapshot still loading are held
// and applied when it swaps in; deltas for an older version are dropped.
func TestEarlyDeltasApplyAtSwap(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	h.start(t)
	h.waitServing(t, 1)

	fold := testModel(t, 2)
	delta := func(base, seq int64, user string) []byte {
		ud := fold.FoldUser(user, []recommend.Rated{{Movie: "A1", Value: 5}, {Movie: "A2", Value: 5}, {Movie: "R1", Value: 1}})
		b, err := recommend.EncodeDelta(recommend.Delta{BaseVersion: base, Seq: seq, NewestEventMillis: time.Now().UnixMilli(), Users: []recommend.UserDelta{ud}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	early := delta(2, 1, "early")
	waitFor(t, "the early delta to be held", func() bool {
		if err := h.bus.PublishDelta(ctxTimeout(t), 2, early); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		return h.s.heldDeltas() > 0
	})
	if _, a := h.predict(t, `{"user_id": "early", "top_k": 5}`); !a.ColdStart || a.ModelVersion != "v1" {
		t.Fatalf("a delta for v2 changed v1: cold=%v from %s", a.ColdStart, a.ModelVersion)
	}
	h.publish(t, 2, snapshotBytes(t, 2))
	h.waitServing(t, 2)
	status, a := h.predict(t, `{"user_id": "early", "top_k": 5}`)
	if status != 200 || a.ColdStart || a.ModelVersion != "v2" {
		t.Fatalf("after the swap to v2: %d cold=%v from %s", status, a.ColdStart, a.ModelVersion)
	}
	if n := h.s.heldDeltas(); n != 0 {
		t.Errorf("%d deltas still held after their version swapped in", n)
	}

	// Now a delta for v1 (obsolete) then one for v2: once the second is
	// applied, the first was seen and dropped.
	before := testutil.ToFloat64(h.s.metrics.deltas)
	if err := h.bus.PublishDelta(ctxTimeout(t), 1, delta(1, 2, "late")); err != nil {
		t.Fatal(err)
	}
	if err := h.bus.PublishDelta(ctxTimeout(t), 2, delta(2, 2, "marker")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the v2 delta", func() bool { return testutil.ToFloat64(h.s.metrics.deltas) > before })
	if got := testutil.ToFloat64(h.s.metrics.deltas); got != before+1 {
		t.Errorf("deltas applied went from %v to %v, want one more", before, got)
	}
	if _, a := h.predict(t, `{"user_id": "late"}`); !a.ColdStart {
		t.Error("a delta for v1 was applied to v2")
	}
	if n := h.s.heldDeltas(); n != 0 {
		t.Errorf("the obsolete delta was held (%d held)", n)
	}
}
