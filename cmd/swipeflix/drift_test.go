package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
)

// driftLatest reads drift's latest report; ok is false on 404 (none yet).
func driftLatest(ctx context.Context, t *testing.T, s *proofStack, addr string) (drift.Report, bool) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/drift/latest", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return drift.Report{}, false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return drift.Report{}, false
	}
	var rep drift.Report
	if err := s.getJSON(ctx, addr, "/v1/drift/latest", &rep); err != nil {
		t.Fatal(err)
	}
	return rep, true
}

// Under swipeflix run (what make run uses) drift keeps its reports in the
// store, so they survive a restart, reads genres from the catalog, and the
// starter data loaded at start raises no alert: its reference is what the
// serving model was trained on (issue 9; before, reports stayed in memory,
// genre_mix saw no genres and the starter data alone raised alert high).
func TestDriftInTheOneBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every service")
	}
	ctx := testCtx(t)
	sample := t.TempDir()
	syn := dataset.Generate(dataset.SizedConfig(4000, 11))
	if err := syn.WriteDir(sample, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	n := len(syn.Ratings())
	dataDir, driftAddr := t.TempDir(), listenAddr(t)
	env := map[string]string{"SWIPEFLIX_DATA_DIR": dataDir, "DRIFT_ADDR": driftAddr, "DRIFT_INTERVAL": "300ms",
		"DRIFT_MIN_CURRENT": "50", "SWIPEFLIX_LOG_LEVEL": "warn"}
	s := startStack(ctx, t, env, "-target", "all", "-starter", sample)
	waitUntil(ctx, t, "a served model covering the starter data", func() bool {
		_, covered, err := s.servingManifest(ctx)
		return err == nil && covered == int64(n)
	})
	var h struct {
		ReferenceReady  bool `json:"reference_ready"`
		CatalogMovies   int  `json:"catalog_movies"`
		ReportsInMemory bool `json:"reports_in_memory"`
	}
	waitUntil(ctx, t, "drift's reference from the model", func() bool {
		return s.getJSON(ctx, driftAddr, "/health", &h) == nil && h.ReferenceReady
	})
	if h.CatalogMovies != len(syn.Catalog) || h.ReportsInMemory {
		t.Errorf("drift health %+v: want the catalog's %d movies and reports in the store", h, len(syn.Catalog))
	}
	time.Sleep(time.Second) // three report intervals
	if rep, ok := driftLatest(ctx, t, s, driftAddr); ok && rep.Alert != drift.AlertNone {
		t.Errorf("the starter data alone raised alert %s (share %.3f)", rep.Alert, rep.Share)
	}

	// New events like the old ones (the same users and movies, later):
	// enough for a report.
	var lines []string
	for i, r := range syn.Ratings()[:200] {
		lines = append(lines, fmt.Sprintf(`{"event_id":"again-%d","user_id":%q,"movie_id":%q,"rating":%v,"ts":%q}`,
			i, r.User, r.Movie, r.Value, time.Now().UTC().Format(time.RFC3339)))
	}
	if err := s.postSwipesTo(ctx, "/v1/ratings", strings.Join(lines, "\n")); err != nil {
		t.Fatal(err)
	}
	var first drift.Report
	waitUntil(ctx, t, "a drift report", func() bool {
		var ok bool
		first, ok = driftLatest(ctx, t, s, driftAddr)
		return ok
	})
	mix, ok := first.Feature(drift.FeatureGenreMix)
	if !ok || len(mix.Reference.Labels) < 2 || strings.Contains(strings.Join(mix.Reference.Labels, ","), "(no genres listed)") && len(mix.Reference.Labels) == 1 {
		t.Errorf("genre_mix without the catalog's genres: %+v", mix.Reference)
	}

	// A restart on the same data, of everything and then of drift alone
	// (with only the modules it depends on): the report is still there,
	// and drift knows the catalog.
	for _, target := range []string{"all", "drift"} {
		s.stop()
		s = startStack(ctx, t, env, "-target", target)
		rep, ok := driftLatest(ctx, t, s, driftAddr)
		if !ok || !rep.Time.Equal(first.Time) && rep.Time.Before(first.Time) {
			t.Fatalf("-target %s after a restart: /v1/drift/latest %v (found %v), want the report of %s or a later one", target, rep.Time, ok, first.Time)
		}
		if err := s.getJSON(ctx, driftAddr, "/health", &h); err != nil || h.CatalogMovies != len(syn.Catalog) || h.ReportsInMemory {
			t.Errorf("-target %s after a restart: drift health %+v (%v), want the catalog's %d movies and reports in the store", target, h, err, len(syn.Catalog))
		}
	}
}
