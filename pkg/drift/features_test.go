package drift

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

type genreMap map[string][]string

func (g genreMap) Genres(id string) []string { return g[id] }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rating(id, user, movie string, r float64, sec int) events.Event {
	return events.Event{EventID: id, UserID: user, MovieID: movie, Rating: &r, TS: t0.Add(time.Duration(sec) * time.Second)}
}

func swipe(id, user, movie string, s events.Swipe, sec int) events.Event {
	return events.Event{EventID: id, UserID: user, MovieID: movie, Swipe: s, TS: t0.Add(time.Duration(sec) * time.Second)}
}

func TestReferenceProfile(t *testing.T) {
	genres := genreMap{"m1": {"Drama"}, "m2": {"Comedy", "Romance"}}
	evs := []events.Event{
		rating("e1", "u1", "m1", 4, 0),
		rating("e2", "u1", "m2", 3.5, 1),
		swipe("e3", "u2", "m1", events.Like, 2),
		swipe("e4", "u3", "m3", events.Skip, 3),
	}
	ref := NewReference(evs, genres, 1)
	want := map[string]Distribution{
		FeatureRating:   {Kind: Numerical, Values: []float64{3.5, 4}, Counts: []float64{1, 1}},
		FeatureSwipeMix: {Kind: Categorical, Labels: []string{"rating", "like", "superlike", "dislike", "skip"}, Counts: []float64{2, 1, 0, 0, 1}},
		// m2's two genres share its event; m3 has none.
		FeatureGenreMix: {Kind: Categorical, Labels: []string{"(no genres listed)", "Comedy", "Drama", "Romance"}, Counts: []float64{1, 0.5, 2, 0.5}},
		// m1 is the top movie of the even events (e1, e3); the odd events
		// (e2 on m2, e4 on m3) give the reference counts: all "other".
		FeaturePopularity: {Kind: Categorical, Labels: []string{"m1", "other"}, Counts: []float64{0, 2}},
		// u1 made 2 events, u2 and u3 one each.
		FeatureActivity: {Kind: Numerical, Values: []float64{1, 2}, Counts: []float64{2, 1}},
		// The even half (e1, e3) knows u1, u2 and m1; of the odd half, e2
		// (u1, m2) has a known user and a new movie, e4 (u3, m3) both new.
		FeatureNewUsers:  {Kind: Categorical, Labels: []string{"new", "known"}, Counts: []float64{1, 1}},
		FeatureNewMovies: {Kind: Categorical, Labels: []string{"new", "known"}, Counts: []float64{2, 0}},
	}
	for name, w := range want {
		if got := ref.Distributions[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
	}
	if ref.Window.Events != 4 || !ref.Window.From.Equal(t0) || !ref.Window.To.Equal(t0.Add(3*time.Second)) {
		t.Errorf("window = %+v", ref.Window)
	}

	cur := ref.Current([]events.Event{
		swipe("e5", "u9", "m1", events.Dislike, 10),
		swipe("e6", "u1", "m7", events.Superlike, 11),
	}, genres)
	if got, w := cur[FeatureNewUsers].Counts, []float64{1, 1}; !reflect.DeepEqual(got, w) {
		t.Errorf("current new_users = %v, want %v (u9 is new, u1 known)", got, w)
	}
	if got, w := cur[FeatureNewMovies].Counts, []float64{1, 1}; !reflect.DeepEqual(got, w) {
		t.Errorf("current new_movies = %v, want %v (m7 is new)", got, w)
	}
	if got := cur[FeatureRating].Total(); got != 0 {
		t.Errorf("current ratings = %v, want none", got)
	}
}

func TestCompareMethodsAndDecision(t *testing.T) {
	cfg := DefaultConfig()
	var refEvs, same, shifted []events.Event
	for i := range 600 {
		r := float64(1 + i%5)
		refEvs = append(refEvs, rating("r", "u"+string(rune('a'+i%21)), "m1", r, i))
		same = append(same, rating("s", "u"+string(rune('a'+i%21)), "m1", r, 1000+i))
		low := math.Max(1, r-1)
		shifted = append(shifted, swipe("x", "v"+string(rune('a'+i%21)), "m2", events.Dislike, 1000+i))
		shifted[len(shifted)-1].Rating, shifted[len(shifted)-1].Swipe = &low, ""
	}
	ref := NewReference(refEvs, nil, cfg.TopMovies)

	rep, err := Compare(cfg, ref, same, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Features {
		wantMethod := MethodChiSquare
		if f.Kind == Numerical {
			wantMethod = MethodKS
		}
		if f.Skipped != "" {
			continue
		}
		if f.Method != wantMethod || f.PValue == nil || f.Distance != nil {
			t.Errorf("%s: method %s (p %v, distance %v), want %s with a p-value", f.Name, f.Method, f.PValue, f.Distance, wantMethod)
		}
		if f.Drifted {
			t.Errorf("%s drifted on an identical window: %+v", f.Name, f)
		}
	}
	if rep.DatasetDrift || rep.Share != 0 || rep.Alert != AlertNone {
		t.Errorf("identical window: share %v, dataset drift %v, alert %s", rep.Share, rep.DatasetDrift, rep.Alert)
	}

	// Ratings lower, new users, a new movie: rating, popularity, new users
	// and new movies drift; the swipe mix (all ratings) does not.
	rep, err = Compare(cfg, ref, shifted, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	drifted := map[string]bool{}
	for _, f := range rep.Features {
		drifted[f.Name] = f.Drifted
	}
	for _, name := range []string{FeatureRating, FeaturePopularity, FeatureNewUsers, FeatureNewMovies} {
		if !drifted[name] {
			t.Errorf("%s not drifted on the shifted window", name)
		}
	}
	if drifted[FeatureSwipeMix] || drifted[FeatureGenreMix] || drifted[FeatureActivity] {
		t.Errorf("unexpected drift: %v", drifted)
	}
	if rep.Evaluated != 7 || rep.Drifted != 4 || rep.Share != 4.0/7 || !rep.DatasetDrift || rep.Alert != AlertHigh {
		t.Errorf("decision: evaluated %d drifted %d share %v dataset %v alert %s", rep.Evaluated, rep.Drifted, rep.Share, rep.DatasetDrift, rep.Alert)
	}

	// Above SmallReference the distances take over.
	cfg.SmallReference = 100
	rep, err = Compare(cfg, ref, shifted, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := rep.Feature(FeatureRating)
	if f.Method != MethodWasserstein || f.Distance == nil || f.PValue != nil || f.Threshold != 0.1 {
		t.Errorf("rating with a large reference: %+v", f)
	}
	f, _ = rep.Feature(FeatureSwipeMix)
	if f.Method != MethodJensenShannon || f.Distance == nil || f.Drifted {
		t.Errorf("swipe mix with a large reference: %+v", f)
	}
}

func TestCompareSkipsEmptyFeature(t *testing.T) {
	ref := NewReference([]events.Event{rating("a", "u1", "m1", 4, 0), rating("b", "u2", "m1", 3, 1)}, nil, 5)
	rep, err := Compare(DefaultConfig(), ref, []events.Event{swipe("c", "u1", "m1", events.Like, 2)}, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := rep.Feature(FeatureRating)
	if f.Skipped == "" || f.Drifted {
		t.Errorf("rating with no current ratings: %+v, want skipped", f)
	}
	if rep.Evaluated != 6 {
		t.Errorf("evaluated = %d, want 6 (rating skipped)", rep.Evaluated)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mut := range map[string]func(*Config){
		"p_value":             func(c *Config) { c.PValue = 1.5 },
		"distance":            func(c *Config) { c.Distance = 0 },
		"dataset_drift_share": func(c *Config) { c.DatasetDriftShare = 0 },
		"alert_score":         func(c *Config) { c.AlertScore = -1 },
		"top_movies":          func(c *Config) { c.TopMovies = 0 },
		"small_reference":     func(c *Config) { c.SmallReference = -1 },
	} {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: err = %v, want one naming the field", field, err)
		}
	}
}

func TestPinnedReferenceFromReportJSON(t *testing.T) {
	var evs []events.Event
	for i := range 50 {
		evs = append(evs, rating("e", "u"+string(rune('a'+i%7)), "m"+string(rune('a'+i%4)), float64(1+i%5), i))
	}
	ref := NewReference(evs, nil, 3)
	rep, err := Compare(DefaultConfig(), ref, evs, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	pinned, err := ReferenceFromReport(back, ref.KnownUsers, ref.KnownMovies)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pinned.TopMovies, ref.TopMovies) {
		t.Errorf("pinned top movies %v, want %v", pinned.TopMovies, ref.TopMovies)
	}
	again, err := Compare(DefaultConfig(), pinned, evs, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range again.Features {
		if f.Score != rep.Features[i].Score || f.Method != rep.Features[i].Method {
			t.Errorf("%s: pinned score %v (%s), original %v (%s)", f.Name, f.Score, f.Method, rep.Features[i].Score, rep.Features[i].Method)
		}
	}
	if _, err := ReferenceFromReport(Report{}, nil, nil); err == nil {
		t.Error("pinning an empty report: no error")
	}
}
