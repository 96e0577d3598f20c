package driftsvc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

// The same checks run on the embedded SQL store and on PostgreSQL
// (SWIPEFLIX_TEST_DATABASE_URL; skipped without it unless
// SWIPEFLIX_REQUIRE_POSTGRES=1).
func eachStore(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		fn(t, storetest.Open(t, store.Config{DatabaseURL: pgtest.NewDatabase(t)}))
	})
}

// TestSQLReportsRoundTrip: a report made by the service is stored whole
// and read back equal. (The first version also pinned a stored report's
// reference after a restart; the reference is now re-derived from the log
// below the serving model's offsets, see TestStarterDataAcrossRestart.)
func TestSQLReportsRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		reports := SQLReports{DB: st}
		if _, err := reports.LatestDriftReport(ctx); !errors.Is(err, drift.ErrNoReport) {
			t.Fatalf("latest of an empty history: err = %v, want ErrNoReport", err)
		}

		synth := drift.NewSynth(rand.New(rand.NewPCG(5, 5)), 500, 300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		cfg := DefaultConfig()
		cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 600, 600, 600
		svc, _ := newOffline(t, cfg, reports)
		evs := synth.Events(1200, drift.Shift{})
		svc.install(drift.NewReference(evs[:600], 10, 1), drift.Coverage{0: 600}, 3)
		feed(svc, 0, evs)
		saved, err := svc.Report(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reports.LatestDriftReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, saved) {
			t.Errorf("stored report differs from the saved one:\n got %+v\nwant %+v", got.Features[0], saved.Features[0])
		}
		if got.ModelVersion != 3 || got.Reference.Population != 600 {
			t.Errorf("stored report: model %d, reference %+v", got.ModelVersion, got.Reference)
		}
	})
}

// TestStoreCatalog: the catalog's genres are read page by page, and a
// catalog loaded after the first read (the trainer loads it while drift
// starts) is there after a refresh.
func TestStoreCatalog(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		cat := NewStoreCatalog(st)
		if n, err := cat.Refresh(ctx); n != 0 || err != nil {
			t.Fatalf("empty catalog: %d movies, %v", n, err)
		}
		var ms []dataset.Movie
		want := GenreMap{}
		for i := range 2500 { // three pages
			m := dataset.Movie{ID: fmt.Sprintf("m%d", i), Title: "t",
				Genres: []string{"Drama", "Comedy"}[:1+i%2]}
			ms = append(ms, m)
			want[m.ID] = m.Genres
		}
		if err := st.UpsertMovies(ctx, ms); err != nil {
			t.Fatal(err)
		}
		if got := cat.Genres("m1"); got != nil {
			t.Errorf("before a refresh: genres of m1 = %v, want none", got)
		}
		n, err := cat.Refresh(ctx)
		if err != nil || n != 2500 {
			t.Fatalf("refresh: %d movies, %v", n, err)
		}
		for id, g := range want {
			if got := cat.Genres(id); !reflect.DeepEqual(got, g) {
				t.Fatalf("genres of %s = %v, want %v", id, got, g)
			}
		}
	})
}
