package eval

import (
	"os"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// TestValidationExplore prints, for each ml-100k fold in the folder named by
// SWIPEFLIX_VALIDATION_DIR, the inner-validation NDCG@10 of the search's
// winner and of each family, as make eval's nested protocol runs the search
// (random inner split, seed 1), the report's notes, and their mean over the
// folds, with the search's seconds per family. It reads only the folds'
// training parts: variants of the search are
// compared on this figure, never on the test folds (a developer's tool;
// skipped otherwise).
func TestValidationExplore(t *testing.T) {
	dir := os.Getenv("SWIPEFLIX_VALIDATION_DIR")
	if dir == "" {
		t.Skip("SWIPEFLIX_VALIDATION_DIR not set")
	}
	src, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	movies, err := src.Movies()
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Folds) == 0 {
		t.Fatalf("%s has no u1..u5 folds", dir)
	}
	c := recommend.DefaultConfig()
	var sum float64
	for f, paths := range src.Folds {
		train, _, err := dataset.LoadRatingsWith(paths[0], dataset.ReadOptions{AnyScale: true})
		if err != nil {
			t.Fatal(err)
		}
		opt := recommend.TuneOptions{Base: recommend.Config{RatingFactors: c.RatingFactors, Iterations: c.Iterations, Seed: 1},
			Split: recommend.SplitRandom, Relevant: Relevant, Now: time.Now}
		_, rep, err := recommend.Tune(TrainSet(train, movies), opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range rep.Trials {
			if tr.Alpha == 1 {
				t.Logf("u%d trial %-10s %-45s %.4f", f+1, tr.Family, tr.Settings, tr.NDCG)
			}
		}
		secs := map[recommend.Family]float64{}
		for _, tr := range rep.Trials {
			secs[tr.Family] += tr.Seconds
		}
		for _, fr := range rep.Families {
			t.Logf("u%d %-10s %5.1f s in its trials", f+1, fr.Family, secs[fr.Family])
			t.Logf("u%d %-10s %-45s %.4f, alpha=%g %.4f", f+1, fr.Family, fr.Best.Settings, fr.Best.NDCG, fr.WithContent.Alpha, fr.WithContent.NDCG)
		}
		if e := rep.Ensemble; e != nil {
			t.Logf("u%d ensemble %s %.4f, alpha=%g %.4f", f+1, e.Best.Settings, e.Best.NDCG, e.WithContent.Alpha, e.WithContent.NDCG)
		}
		for _, n := range rep.Notes {
			t.Logf("u%d note %s", f+1, n)
		}
		t.Logf("u%d winner %s %s alpha=%g validation NDCG@10 %.4f (search %.1f s, ensemble %.1f s)", f+1, rep.Winner.Family, rep.Winner.Settings, rep.Winner.Alpha, rep.Winner.NDCG, rep.SearchSeconds, secs[recommend.FamilyEnsemble])
		sum += rep.Winner.NDCG
	}
	t.Logf("mean inner-validation NDCG@10 of the winner over %d folds: %.4f", len(src.Folds), sum/float64(len(src.Folds)))
}
