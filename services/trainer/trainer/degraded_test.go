package trainer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

func TestPostgresOutageKeepsPublishing(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	e := newEnv(t)
	proxy, proxied := pgtest.ViaProxy(t, dbURL)
	ctx := context.Background()
	st := storetest.Open(t, store.Config{DatabaseURL: proxied})
	e.store = st

	evs, _ := synthEvents(40, 60, 900)
	e.publish(t, evs)
	r := e.start(t, e.config(), nil)
	waitFor(t, "v1 registered", func() bool {
		rec, err := st.Current(ctx)
		return err == nil && rec.Version == 1
	})

	proxy.SetDown(true)
	// Something new to cover: a refit of the same data publishes nothing.
	e.publish(t, []events.Event{events.NewSwipe("during-outage", "newcomer", "1", events.Like, time.Now(), "test")})
	waitFor(t, "the new event in the state", func() bool { return r.svc.pairs.Load() == int64(len(evs)+1) })
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.bus.RequestRetrain(rctx, modelbus.RetrainRequest{Reason: "outage test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 published over NATS with the database down", func() bool {
		m, _ := e.current(t)
		return m.Version == 2
	})
	var h Health
	waitFor(t, "health degraded", func() bool {
		getJSON(t, r.url("/health"), &h)
		return h.Status == "degraded"
	})
	if h.RegistryPending == 0 || gauge(t, r, "swipeflix_registry_degraded") != 1 {
		t.Errorf("degraded health %+v, gauge %v; want pending writes and gauge 1", h, gauge(t, r, "swipeflix_registry_degraded"))
	}

	proxy.SetDown(false)
	waitFor(t, "queued registry writes applied", func() bool {
		rec, err := st.Current(ctx)
		return err == nil && rec.Version == 2
	})
	waitFor(t, "health ok again", func() bool {
		getJSON(t, r.url("/health"), &h)
		return h.Status == "ok"
	})
	if g := gauge(t, r, "swipeflix_registry_degraded"); g != 0 {
		t.Errorf("registry_degraded = %v after recovery, want 0", g)
	}
}

func gauge(t *testing.T, r *running, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// A trainer that starts while PostgreSQL is down still loads its catalog
// folder, publishes over NATS with catalog titles, reports degraded, and
// registers the model once the database answers.
func TestStartsDuringPostgresOutage(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	e := newEnv(t)
	proxy, proxied := pgtest.ViaProxy(t, dbURL)
	proxy.SetDown(true)
	// As module store opens it: tolerant of a database that does not answer.
	down := storetest.Open(t, store.Config{DatabaseURL: proxied, TolerateUnavailable: true})
	e.store = down

	cfg := e.config()
	e.catalogDir = t.TempDir()
	syn := dataset.Generate(dataset.SynthConfig{Seed: 9, Users: 40, Movies: 60, Ratings: 900})
	if err := syn.WriteDir(e.catalogDir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for i, r := range syn.Ratings() {
		v := r.Value
		evs = append(evs, events.Event{EventID: fmt.Sprintf("e%d", i), UserID: r.User, MovieID: r.Movie,
			Rating: &v, TS: time.Unix(r.Time, 0).UTC()})
	}
	e.publish(t, evs)
	r := e.start(t, cfg, nil)

	var m modelbus.Manifest
	waitFor(t, "v1 published over NATS with the database down", func() bool {
		m, _ = e.current(t)
		return m.Version == 1
	})
	data, err := e.bus.Fetch(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	model, err := recommend.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if mv, ok := model.Movie(syn.Catalog[0].ID); !ok || mv.Title != syn.Catalog[0].Title {
		t.Errorf("movie %s in v1: %+v, want the catalog title %q", syn.Catalog[0].ID, mv, syn.Catalog[0].Title)
	}
	var h Health
	waitFor(t, "health degraded", func() bool {
		getJSON(t, r.url("/health"), &h)
		return h.Status == "degraded"
	})

	proxy.SetDown(false)
	st := storetest.Open(t, store.Config{DatabaseURL: dbURL})
	waitFor(t, "v1 registered once the database is back", func() bool {
		rec, err := st.Current(context.Background())
		return err == nil && rec.Version == 1
	})
}
