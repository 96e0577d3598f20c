package trainer

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

func TestTrainDatasetPublishesAndRegisters(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	syn := dataset.Generate(dataset.SynthConfig{Seed: 9, Users: 50, Movies: 80, Ratings: 1500})
	if err := syn.WriteDir(dir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opt := TrainOptions{Dir: dir, Bus: e.bus, Registry: e.store, HoldoutPercent: 10,
		Model: recommend.Config{Factors: 6, RatingFactors: 6, Iterations: 5, Seed: 1, Workers: 1}}
	for want := int64(1); want <= 2; want++ {
		res, err := TrainDataset(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := e.current(t)
		if res.Manifest.Version != want || cur.Version != want || cur.SHA256 != res.Manifest.SHA256 {
			t.Fatalf("train %d: published %d, current %d", want, res.Manifest.Version, cur.Version)
		}
		rec, err := e.store.Current(ctx)
		if err != nil || rec.Version != want {
			t.Fatalf("registry current = %d, %v; want %d", rec.Version, err, want)
		}
		if res.Scores.Pairs == 0 || res.Scores.RMSE <= 0 || cur.DatasetHash == "" {
			t.Errorf("manifest without holdout scores or dataset hash: %+v", cur)
		}
	}
	// The snapshot carries the catalog's titles.
	cur, _ := e.current(t)
	data, err := e.bus.Fetch(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	m, err := recommend.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := m.Movie(syn.Catalog[0].ID); !ok || info.Title != syn.Catalog[0].Title {
		t.Errorf("movie %s in the snapshot: %+v, want title %q", syn.Catalog[0].ID, info, syn.Catalog[0].Title)
	}

	_, err = TrainDataset(ctx, TrainOptions{Dir: filepath.Join(dir, "missing"), Bus: e.bus})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing folder: err = %v, want one naming it", err)
	}
}

// TestTrainMovieLens fits ml-100k as the one-shot path does and checks the
// model beats the global mean on the holdout; it logs the figures.
func TestTrainMovieLens(t *testing.T) {
	if testing.Short() {
		t.Skip("fits ml-100k")
	}
	src := datasettest.Open(t, "ml-100k")
	st := ratingstate.New()
	n := 0
	if err := src.Ratings(func(r dataset.Rating) error {
		n++
		_, err := st.Update(ratingstate.Event{User: r.User, Movie: r.Movie, Value: float32(r.Value), TS: r.Time,
			EventID: "e" + strconv.Itoa(n), Partition: -1, Offset: -1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	view := st.Export()
	train, hold, _ := split(view.Columns(), 10)
	view.Release()
	c, err := fitCandidate(train, hold, nil, recommend.DefaultConfig(), Gate{}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mean, se float64
	for _, it := range train {
		mean += it.Value
	}
	mean /= float64(len(train))
	for _, it := range hold {
		se += (it.Value - mean) * (it.Value - mean)
	}
	baseline := math.Sqrt(se / float64(len(hold)))
	t.Logf("ml-100k, %d train / %d holdout pairs: rmse %.4f (global mean %.4f), mae %.4f, ndcg@10 %.4f over %d users, fit %s",
		c.trainN, c.holdoutN, c.scores.RMSE, baseline, c.scores.MAE, c.scores.NDCG10, c.scores.Users, c.fitTime.Round(time.Millisecond))
	if c.scores.RMSE >= baseline {
		t.Errorf("rmse %.4f does not beat the global mean %.4f", c.scores.RMSE, baseline)
	}
}
