package driftsvc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
)

// The same checks run on the embedded SQL store and on PostgreSQL
// (SWIPEFLIX_TEST_DATABASE_URL; skipped without it unless
// SWIPEFLIX_REQUIRE_POSTGRES=1).
func eachStore(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		st, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "drift.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := store.Open(ctx, store.Config{DatabaseURL: pgtest.NewDatabase(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

func TestSQLReportsRoundTripAndPin(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		reports := SQLReports{DB: st}
		if _, err := reports.LatestDriftReport(ctx); !errors.Is(err, drift.ErrNoReport) {
			t.Fatalf("latest of an empty history: err = %v, want ErrNoReport", err)
		}

		synth := drift.NewSynth(rand.New(rand.NewPCG(5, 5)), 500, 300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		cfg := DefaultConfig()
		cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 600, 600, 600
		first, _ := newOffline(t, cfg, reports)
		for _, e := range synth.Events(1200, drift.Shift{}) {
			first.add(e)
		}
		saved, err := first.Report(ctx)
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

		// A restart with reference=pinned compares against it.
		cfg.Reference = RefPinned
		second, _ := newOffline(t, cfg, reports)
		if second.ref == nil || second.ref.Window != saved.Reference {
			t.Fatalf("pinned window %+v, want %+v", second.ref, saved.Reference)
		}
	})
}

func TestCatalogGenres(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
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
		got, err := CatalogGenres(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("catalog genres: %d movies, want %d", len(got), len(want))
		}
	})
}
