package drift

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/events"
)

type movieGenres map[string][]string

func (g movieGenres) Genres(id string) []string { return g[id] }

// loadML100K reads ml-100k as events in time order with its genres, or
// skips the test when the dataset is not there.
func loadML100K(t *testing.T) ([]events.Event, movieGenres) {
	t.Helper()
	movies, ratings := datasettest.Load(t, "ml-100k")
	g := movieGenres{}
	for _, m := range movies {
		g[m.ID] = m.Genres
	}
	sort.SliceStable(ratings, func(i, j int) bool { return ratings[i].Time < ratings[j].Time })
	evs := make([]events.Event, len(ratings))
	for i, r := range ratings {
		v := r.Value
		evs[i] = events.Event{EventID: "ml" + r.User + "-" + r.Movie, UserID: r.User, MovieID: r.Movie,
			Rating: &v, TS: time.Unix(r.Time, 0).UTC()}
	}
	return evs, g
}

// TestMovieLensShuffledAndTimeOrdered: on real ratings, windows drawn at
// random (i.i.d. by construction) must rarely raise dataset drift; and a
// model trained on all but the last 1,000 ratings in time, compared with
// those last 1,000, is reported as measured.
func TestMovieLensShuffledAndTimeOrdered(t *testing.T) {
	measurement(t, "reads ml-100k and runs 100 trials")
	evs, genres := loadML100K(t)
	cfg := DefaultConfig()
	drifted := map[string]int{}
	datasetDrift, alerts := 0, 0
	rng := rand.New(rand.NewPCG(100, 100))
	for trial := range 100 {
		perm := rng.Perm(len(evs))
		win := make([]events.Event, 2000)
		for i := range win {
			win[i] = evs[perm[i]]
		}
		ref := NewReference(win[:1000], cfg.PopularityBuckets, uint64(trial))
		rep, err := Compare(cfg, ref, win[1000:], genres, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rep.Features {
			if f.Drifted {
				drifted[f.Name]++
			}
		}
		if rep.DatasetDrift {
			datasetDrift++
		}
		if rep.Alert == AlertHigh {
			alerts++
		}
	}
	t.Logf("ml-100k random windows 1,000/1,000, 100 trials: dataset drift %d, alert %d, per feature %v", datasetDrift, alerts, drifted)
	if datasetDrift > 5 {
		t.Errorf("dataset drift in %d of 100 random-window trials, want <= 5", datasetDrift)
	}

	// The model covers every rating but the last 1,000 in time; the
	// reference is a sample of 1,000 of the covered ratings.
	sm, err := NewSampler(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[:len(evs)-1000] {
		sm.Add(e)
	}
	rep, err := Compare(cfg, sm.Reference(cfg.PopularityBuckets), evs[len(evs)-1000:], genres, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rep.Features {
		if f.Drifted {
			names = append(names, f.Name)
		}
	}
	t.Logf("ml-100k, model on all but the last 1,000 ratings in time against them: share %.3f, alert %s, drifted %v",
		rep.Share, rep.Alert, names)
}
