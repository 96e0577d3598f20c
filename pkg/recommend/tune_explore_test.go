package recommend_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// TestTuneExplore prints a tuning report on the file named by
// SWIPEFLIX_TUNE_FILE (a developer's tool; skipped otherwise).
func TestTuneExplore(t *testing.T) {
	path := os.Getenv("SWIPEFLIX_TUNE_FILE")
	if path == "" {
		t.Skip("SWIPEFLIX_TUNE_FILE not set")
	}
	var ts recommend.TrainSet
	if err := dataset.ReadRatings(path, func(r dataset.Rating) error {
		ts.Interactions = append(ts.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, rep, err := recommend.Tune(ts, recommend.TuneOptions{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	for _, tr := range rep.Trials {
		t.Logf("%-10s %-50s a=%.1f ndcg %.4f recall %.4f %5.2fs", tr.Family, tr.Settings, tr.Alpha, tr.NDCG, tr.Recall, tr.Seconds)
	}
	rep.Trials = nil
	b, _ := json.Marshal(rep)
	t.Logf("%s", b)
	t0 := time.Now()
	if _, err := recommend.Fit(ts, m.Config()); err != nil {
		t.Fatal(err)
	}
	plain := time.Since(t0)
	t.Logf("tuned refit %v, plain fit of the winner %v: %.1fx", total, plain, total.Seconds()/plain.Seconds())
}
