package recommend_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// worldSplit generates a hard world and splits it: every fifth rating of
// each user (by time) is a test rating.
func worldSplit(t testing.TB, name string) (train recommend.TrainSet, test []dataset.Rating) {
	t.Helper()
	w, err := dataset.HardWorld(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range w.Scale.Map(w.Ratings) {
		seen[r.User]++
		if seen[r.User]%5 == 0 {
			test = append(test, r)
			continue
		}
		train.Interactions = append(train.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
	}
	for _, m := range w.Movies {
		train.Movies = append(train.Movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Genres: m.Genres, Tags: m.Tags})
	}
	return train, test
}

// testNDCG is the mean NDCG@10 of m over users with a test rating >= 4.
func testNDCG(t testing.TB, m *recommend.Model, test []dataset.Rating) float64 {
	t.Helper()
	rel := map[string]map[string]bool{}
	for _, r := range test {
		if r.Value >= 4 {
			if rel[r.User] == nil {
				rel[r.User] = map[string]bool{}
			}
			rel[r.User][r.Movie] = true
		}
	}
	var sum float64
	for u, items := range rel {
		res, err := m.Recommend(recommend.Query{User: u, K: 10})
		if err != nil {
			t.Fatal(err)
		}
		var dcg, ideal float64
		for i, it := range res.Items {
			if items[it.MovieID] {
				dcg += 1 / math.Log2(float64(i+2))
			}
		}
		for i := 0; i < 10 && i < len(items); i++ {
			ideal += 1 / math.Log2(float64(i+2))
		}
		sum += dcg / ideal
	}
	return sum / float64(len(rel))
}

func popularityModel(t testing.TB, ts recommend.TrainSet) *recommend.Model {
	t.Helper()
	m, err := recommend.Fit(ts, recommend.Config{Family: recommend.FamilyPopularity, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Where popularity explains everything, the tuner serves popularity or a
// model that matches it on test data.
func TestTunePopularityWorld(t *testing.T) {
	train, test := worldSplit(t, dataset.WorldPopularity)
	m, rep, err := recommend.Tune(train, recommend.TuneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, pop := testNDCG(t, m, test), testNDCG(t, popularityModel(t, train), test)
	t.Logf("%s; test NDCG@10 %.4f, popularity %.4f", rep, got, pop)
	if rep.Decision != recommend.DecisionPopularity && got < 0.97*pop {
		t.Errorf("served %s with test NDCG@10 %.4f, under popularity's %.4f", rep.Winner.Family, got, pop)
	}
}

// Where taste is strong and low-rank, the tuner beats popularity widely.
func TestTuneTasteWorld(t *testing.T) {
	train, test := worldSplit(t, dataset.WorldTaste)
	m, rep, err := recommend.Tune(train, recommend.TuneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, pop := testNDCG(t, m, test), testNDCG(t, popularityModel(t, train), test)
	t.Logf("%s; test NDCG@10 %.4f, popularity %.4f", rep, got, pop)
	if rep.Decision != recommend.DecisionTuned || got < 1.5*pop {
		t.Errorf("%s: test NDCG@10 %.4f, want at least 1.5x popularity's %.4f", rep.Decision, got, pop)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not marshal: %v", err)
	}
	if rep.RatingChoice == "" || rep.BiasesRMSE <= 0 || len(rep.RatingTrials) < 2 {
		t.Errorf("rating model choice not recorded: %+v", rep.RatingTrials)
	}
	for _, tr := range rep.RatingTrials {
		if tr.Settings == rep.RatingChoice && tr.RMSE > rep.BiasesRMSE {
			t.Errorf("chose %s with RMSE %.4f over biases' %.4f", tr.Settings, tr.RMSE, rep.BiasesRMSE)
		}
	}
}

// The search is a function of its input and seed.
func TestTuneDeterministic(t *testing.T) {
	train, _ := worldSplit(t, dataset.WorldPopularity)
	run := func() (string, string) {
		m, rep, err := recommend.Tune(train, recommend.TuneOptions{Base: recommend.Config{Workers: 2}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		r, _ := json.Marshal(rep)
		return string(b), string(r)
	}
	m1, r1 := run()
	m2, r2 := run()
	if m1 != m2 || r1 != r2 {
		t.Errorf("two tuned refits with one seed differ (model %v, report %v)", m1 == m2, r1 == r2)
	}
}

// A deliberately bad candidate (PureSVD of rank 1 on columns scaled by
// count^-5, which ranks the rarest movies first) is refused by the gate.
func TestTuneGateRefusesBadCandidate(t *testing.T) {
	train, _ := worldSplit(t, dataset.WorldTaste)
	bad := recommend.Config{Factors: 1, ItemNorm: 5}
	m, rep, err := recommend.Tune(train, recommend.TuneOptions{Families: []recommend.Family{recommend.FamilyPureSVD},
		Grid: map[recommend.Family][]recommend.Config{recommend.FamilyPureSVD: {bad}}, Alphas: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decision != recommend.DecisionPopularity || m.Family() != recommend.FamilyPopularity {
		t.Fatalf("decision %s, served %s: %s", rep.Decision, m.Family(), rep.Reason)
	}
	if !strings.Contains(rep.Reason, "puresvd") || !strings.Contains(rep.Reason, "quality gate") {
		t.Errorf("reason does not say why: %q", rep.Reason)
	}
	// With a strong previous model, the previous model serves on instead.
	prev, err := recommend.Fit(train, recommend.Config{Family: recommend.FamilyEASE, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err = recommend.Tune(train, recommend.TuneOptions{Families: []recommend.Family{recommend.FamilyPureSVD},
		Grid: map[recommend.Family][]recommend.Config{recommend.FamilyPureSVD: {bad}}, Alphas: []float64{1}, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decision != recommend.DecisionPrevious || m != prev || rep.PreviousNDCG == nil {
		t.Errorf("decision %s: %s", rep.Decision, rep.Reason)
	}
}

// The compact input trains the same model as interactions.
func TestFitCompactRatings(t *testing.T) {
	train, _ := worldSplit(t, dataset.WorldScale10)
	var r compactRatings
	for _, it := range train.Interactions {
		r.add(it.User, it.Movie, it.Value)
	}
	cfg := recommend.Config{Family: recommend.FamilyIALS, Workers: 1}
	a, err := recommend.Fit(train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := recommend.Fit(recommend.TrainSet{Ratings: r.Ratings, Movies: train.Movies}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if string(ab) != string(bb) {
		t.Error("compact ratings fit a different model")
	}
	r.Value[0] = 7
	if _, err := recommend.Fit(recommend.TrainSet{Ratings: r.Ratings}, cfg); err == nil {
		t.Error("a value of 7 was accepted")
	}
}
