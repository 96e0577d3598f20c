package driftsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// running is a drift service started with Run; stop ends it and returns
// Run's error (once; the test's cleanup stops it too).
type running struct {
	svc  *Service
	stop func() error
}

func newService(t *testing.T, cfg Config, deps Deps) *Service {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps.Registerer, deps.Gatherer = reg, reg
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func run(t *testing.T, ctx context.Context, svc *Service) *running {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-runErr
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return &running{svc: svc, stop: stop}
}

// nextReport waits for a report on sub that satisfies ok.
func nextReport(t *testing.T, ctx context.Context, sub chan *nats.Msg, what string, ok func(drift.Report) bool) drift.Report {
	t.Helper()
	for {
		select {
		case m := <-sub:
			var rep drift.Report
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				t.Fatalf("report on NATS is not JSON: %v", err)
			}
			if ok(rep) {
				return rep
			}
		case <-ctx.Done():
			t.Fatalf("no report with %s", what)
		}
	}
}

// TestStarterDataAcrossRestart is the proof of issue 9's drift part, on
// the embedded SQL store and on PostgreSQL, with real brokers:
//
//  1. starter data in blocks of users (ordered by user, as
//     ml-latest-small's ratings.csv) is published in one go and the catalog
//     is loaded only after drift started, as `make run` does; a model
//     covering the starter data is announced;
//  2. the stream that follows (fresh events of the same synthetic world)
//     gets a report without an alert, whose genre_mix has the catalog's
//     genres;
//  3. after a restart the stored report is served at once, the reference
//     is derived again from the log, identical;
//  4. an injected shift (ratings down half a star, a quarter of events
//     from new users) raises the alert.
//
// With the first version's reference (the first 1,000 events in arrival
// order) step 2 alerts (see pkg/drift's TestStarterDataInOneGo); without
// the store step 3 answers 404; without the catalog refresh genre_mix
// holds only "(no genres listed)".
func TestStarterDataAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers")
	}
	eachStore(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
		defer cancel()
		broker, natsURL := embeddedtest.StartTestKafka(t).Addr(), startNATS(t)
		nc := embeddedtest.Connect(t, natsURL)
		reports := make(chan *nats.Msg, 256)
		if _, err := nc.ChanSubscribe("swipeflix.drift.report", reports); err != nil {
			t.Fatal(err)
		}
		bus := newBus(t, ctx, natsURL)

		synth := drift.NewSynth(rand.New(rand.NewPCG(9, 9)), 500, 300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		starter := synth.Events(10000, drift.Shift{})
		slices.SortStableFunc(starter, func(a, b events.Event) int { return strings.Compare(a.UserID, b.UserID) })
		var catalog []dataset.Movie
		for i := range 300 {
			id := fmt.Sprint("m", i)
			catalog = append(catalog, dataset.Movie{ID: id, Title: "Movie " + id, Genres: synth.Genres(id)})
		}
		cl := newProducer(t, broker)
		cov := produce(t, ctx, cl, starter, nil)

		cfg := DefaultConfig()
		cfg.Addr, cfg.Brokers, cfg.NATSURL = "127.0.0.1:0", []string{broker}, natsURL
		cfg.Interval = 200 * time.Millisecond
		cfg.CurrentEvents, cfg.MinCurrent = 1000, 1000
		// The first run dials NATS itself and watches the model on its own
		// connection; the second shares the test's, as the one binary will.
		first := run(t, ctx, newService(t, cfg, Deps{Store: SQLReports{DB: st}, Genres: NewStoreCatalog(st)}))
		if err := st.UpsertMovies(ctx, catalog); err != nil {
			t.Fatal(err)
		}
		announce(t, ctx, bus, 1, cov)
		waitFor(t, ctx, "the reference of model 1", func() bool {
			s := first.svc.status()
			return s.ModelVersion == 1 && s.ReferencePopulation == len(starter)
		})

		stationary := synth.Events(1000, drift.Shift{})
		produce(t, ctx, cl, stationary, nil)
		calm := nextReport(t, ctx, reports, "the following events as current window", func(r drift.Report) bool {
			return r.Current.Events == 1000 && !r.Current.From.Before(stationary[0].TS)
		})
		t.Logf("after the starter data: share %.3f, alert %s, drifted %v", calm.Share, calm.Alert, driftedOf(calm))
		if calm.Alert != drift.AlertNone || calm.DatasetDrift || calm.ModelVersion != 1 ||
			calm.Reference.Population != len(starter) || calm.Reference.Events != cfg.ReferenceEvents {
			t.Errorf("starter data covered by the model, then the same stream: share %v, alert %s, model %d, reference %+v",
				calm.Share, calm.Alert, calm.ModelVersion, calm.Reference)
		}
		g, _ := calm.Feature(drift.FeatureGenreMix)
		if len(g.Reference.Labels) < 5 || labelCount(g.Reference, drift.LabelNoGenres) > 0 || labelCount(g.Current, drift.LabelNoGenres) > 0 {
			t.Errorf("genre_mix does not come from the catalog: reference %v %v, current %v %v",
				g.Reference.Labels, g.Reference.Counts, g.Current.Labels, g.Current.Counts)
		}
		// The report goes out on NATS before it is stored.
		var stored drift.Report
		waitFor(t, ctx, "the report in the store", func() bool {
			var err error
			stored, err = SQLReports{DB: st}.LatestDriftReport(ctx)
			return err == nil && !stored.Time.Before(calm.Time)
		})

		// Restart: the store has the report, the log has the reference.
		if err := first.stop(); err != nil {
			t.Fatalf("first run: %v", err)
		}
		svc2 := newService(t, cfg, Deps{Store: SQLReports{DB: st}, Genres: NewStoreCatalog(st), NATS: nc, Bus: bus})
		if latest := getLatest(t, svc2); !reflect.DeepEqual(latest, stored) {
			t.Errorf("after a restart /v1/drift/latest = %v report of %s, want the stored one of %s", latest.Share, latest.Time, stored.Time)
		}
		second := run(t, ctx, svc2)
		waitFor(t, ctx, "the second run's reference", func() bool {
			s := second.svc.status()
			return s.ModelVersion == 1 && s.ReferencePopulation == len(starter)
		})

		shifted := synth.Events(1000, drift.Shift{RatingDelta: -0.53, NewUserShare: 0.25})
		produce(t, ctx, cl, shifted, nil)
		alarm := nextReport(t, ctx, reports, "the shifted events as current window", func(r drift.Report) bool {
			return r.Current.Events == 1000 && !r.Current.From.Before(shifted[0].TS)
		})
		t.Logf("shifted: share %.3f, alert %s, drifted %v", alarm.Share, alarm.Alert, driftedOf(alarm))
		if alarm.Alert != drift.AlertHigh {
			t.Errorf("ratings -0.5 and 25%% new users after the starter data: share %v, alert %s, want high", alarm.Share, alarm.Alert)
		}
		// The re-derived reference is the same reference.
		for i, f := range alarm.Features {
			if !reflect.DeepEqual(f.Reference, calm.Features[i].Reference) {
				t.Errorf("%s: the reference after the restart differs from before", f.Name)
			}
		}
		if !reflect.DeepEqual(alarm.Reference, calm.Reference) {
			t.Errorf("reference window after the restart %+v, before %+v", alarm.Reference, calm.Reference)
		}
	})
}

func driftedOf(r drift.Report) []string {
	var out []string
	for _, f := range r.Features {
		if f.Drifted {
			out = append(out, f.Name)
		}
	}
	return out
}

func labelCount(d drift.Distribution, label string) float64 {
	for i, l := range d.Labels {
		if l == label {
			return d.Counts[i]
		}
	}
	return 0
}

// getLatest asks the service's HTTP handler for /v1/drift/latest.
func getLatest(t *testing.T, s *Service) drift.Report {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/v1/drift/latest")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/v1/drift/latest: %d %s", res.StatusCode, b)
	}
	var rep drift.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// A model the trainer fitted in the middle of a load covers a head of it;
// with it as the reference, the rest of the load looks like drift. Drift
// waits for a model that covers what it has read: a later one, or the same
// mid-load one once nothing else came (issue 9: starter data published in
// one go must not raise the alert).
func TestModelFittedMidLoadIsNoReference(t *testing.T) {
	ctx := brokerTest(t, 120*time.Second)
	broker, natsURL := embeddedtest.StartTestKafka(t).Addr(), startNATS(t)
	bus := newBus(t, ctx, natsURL)
	synth := drift.NewSynth(rand.New(rand.NewPCG(4, 4)), 300, 200, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	load := synth.Events(4000, drift.Shift{})
	cl := newProducer(t, broker)
	head := produce(t, ctx, cl, load[:1000], nil)
	all := produce(t, ctx, cl, load[1000:], maps.Clone(head))

	cfg := DefaultConfig()
	cfg.Addr, cfg.Brokers, cfg.NATSURL = "127.0.0.1:0", []string{broker}, natsURL
	cfg.Interval = 100 * time.Millisecond
	svc := run(t, ctx, newService(t, cfg, Deps{Store: &MemoryStore{}, Genres: lookupCatalog{synth}, Bus: bus})).svc
	waitFor(t, ctx, "the whole load read", func() bool { return svc.status().Consumed == int64(len(load)) })

	publish := func(version int64, cov drift.Coverage, phase string) {
		m := modelbus.Manifest{Version: version, CreatedAt: time.Now(), Offsets: map[int32]int64(cov),
			Params: map[string]string{modelbus.ParamPhase: phase}}
		if _, err := bus.Publish(ctx, m, []byte(fmt.Sprint("snapshot ", version))); err != nil {
			t.Fatal(err)
		}
	}
	publish(1, head, modelbus.PhaseLoad)
	time.Sleep(10 * cfg.Interval)
	if s := svc.status(); s.ModelVersion != 0 || s.ReferenceReady {
		t.Fatalf("a model covering the first 1,000 of 4,000 events became the reference: %+v", s)
	}
	publish(2, all, modelbus.PhaseLoad)
	waitFor(t, ctx, "the covering model as reference", func() bool {
		s := svc.status()
		return s.ModelVersion == 2 && s.ReferencePopulation == len(load)
	})
}
