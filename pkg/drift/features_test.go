package drift

import (
	"encoding/json"
	"fmt"
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

// refOf builds a reference whose halves the test chooses: the known
// events decide the counts, the measured ones give the reference values of
// the count-relative features, and both are in the sample.
func refOf(known, measured []events.Event, buckets int) *Reference {
	r := &Reference{users: map[string]int{}, buckets: buckets}
	movies := map[string]int{}
	for _, e := range known {
		r.users[e.UserID]++
		movies[e.MovieID]++
		r.Window.add(e)
	}
	for _, e := range measured {
		r.Window.add(e)
	}
	r.bucket = popularityBuckets(movies, buckets)
	r.sample = append(append([]events.Event(nil), known...), measured...)
	r.measured = measured
	r.Window.Events = len(r.sample)
	return r
}

// TestPopularityBucketsByHand: five movies with 4, 3, 1, 1 and 1 events
// (10 in all) in 10 buckets of the event mass, most popular first. m1's
// events start at 0% of the mass (q1), m2's at 40% (q5), and the three
// movies with one event each, a tie that is never split, at 70% (q8).
func TestPopularityBucketsByHand(t *testing.T) {
	got := popularityBuckets(map[string]int{"m1": 4, "m2": 3, "m3": 1, "m4": 1, "m5": 1, "m6": 0}, 10)
	want := map[string]int{"m1": 1, "m2": 5, "m3": 8, "m4": 8, "m5": 8}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("buckets = %v, want %v", got, want)
	}
	// In quartiles: 0% -> q1, 40% -> q2 (floor(4*0.4)+1), 70% -> q3.
	got = popularityBuckets(map[string]int{"m1": 4, "m2": 3, "m3": 1, "m4": 1, "m5": 1}, 4)
	want = map[string]int{"m1": 1, "m2": 2, "m3": 3, "m4": 3, "m5": 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("quartile buckets = %v, want %v", got, want)
	}
	// Ten movies with one event each are one tie, never split: all in q1.
	flat := map[string]int{}
	for i := range 10 {
		flat[fmt.Sprintf("m%d", i)] = 1
	}
	got = popularityBuckets(flat, 10)
	seen := map[int]bool{}
	for _, b := range got {
		seen[b] = true
	}
	if len(seen) != 1 || !seen[1] {
		t.Errorf("ten equally popular movies: buckets %v, want all in q1 (a tie is never split)", got)
	}

	// Each event of the window maps to its movie's bucket; a movie the
	// known half never saw is "unseen".
	var known []events.Event
	for i, m := range []string{"m1", "m1", "m1", "m1", "m2", "m2", "m2", "m3", "m4", "m5"} {
		known = append(known, rating(fmt.Sprint("k", i), "u1", m, 4, i))
	}
	ref := refOf(known, nil, 10)
	cur := ref.Current([]events.Event{
		rating("c1", "u1", "m1", 4, 20), rating("c2", "u1", "m2", 4, 21), rating("c3", "u1", "m5", 4, 22),
		rating("c4", "u1", "m9", 4, 23), rating("c5", "u1", "m1", 4, 24),
	}, nil)
	wantDist := Distribution{Kind: Categorical,
		Labels: []string{"q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "unseen"},
		Counts: []float64{2, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1}}
	if got := cur[FeaturePopularity]; !reflect.DeepEqual(got, wantDist) {
		t.Errorf("current movie_popularity = %+v, want %+v", got, wantDist)
	}
}

func TestReferenceProfile(t *testing.T) {
	genres := genreMap{"m1": {"Drama"}, "m2": {"Comedy", "Romance"}}
	known := []events.Event{
		rating("e1", "u1", "m1", 4, 0),
		swipe("e3", "u2", "m1", events.Like, 2),
		swipe("e5", "u1", "m2", events.Dislike, 4),
	}
	measured := []events.Event{
		rating("e2", "u1", "m2", 3.5, 1),
		swipe("e4", "u3", "m3", events.Skip, 3),
	}
	ref := refOf(known, measured, 2)
	want := map[string]Distribution{
		// Every sampled event counts for the content features.
		FeatureRating:   {Kind: Numerical, Values: []float64{3.5, 4}, Counts: []float64{1, 1}},
		FeatureSwipeMix: {Kind: Categorical, Labels: []string{"rating", "like", "superlike", "dislike", "skip"}, Counts: []float64{2, 1, 0, 1, 1}},
		// m2's two genres share each of its events; m3 has none.
		FeatureGenreMix: {Kind: Categorical, Labels: []string{"(no genres listed)", "Comedy", "Drama", "Romance"}, Counts: []float64{1, 1, 2, 1}},
		// The known half counts m1 twice and m2 once (3 events): m1 starts
		// at 0% (q1), m2 at 67% (q2 of 2). The measured events: e2 on m2
		// (q2) and e4 on m3, which the known half never saw.
		FeaturePopularity: {Kind: Categorical, Labels: []string{"q1", "q2", "unseen"}, Counts: []float64{0, 1, 1}},
		// The known half has 2 events of u1 (e2's user); u3 is new and has
		// no activity to measure.
		FeatureActivity:  {Kind: Numerical, Values: []float64{2}, Counts: []float64{1}},
		FeatureNewUsers:  {Kind: Categorical, Labels: []string{"new", "known"}, Counts: []float64{1, 1}},
		FeatureNewMovies: {Kind: Categorical, Labels: []string{"new", "known"}, Counts: []float64{1, 1}},
	}
	got := ref.Distributions(genres)
	for name, w := range want {
		if !reflect.DeepEqual(got[name], w) {
			t.Errorf("%s = %+v, want %+v", name, got[name], w)
		}
	}
	if ref.Window.Events != 5 || ref.Window.Population != 5 || !ref.Window.From.Equal(t0) || !ref.Window.To.Equal(t0.Add(4*time.Second)) {
		t.Errorf("window = %+v", ref.Window)
	}

	cur := ref.Current([]events.Event{
		swipe("e6", "u9", "m1", events.Dislike, 10),
		swipe("e7", "u2", "m7", events.Superlike, 11),
	}, genres)
	if got, w := cur[FeatureNewUsers].Counts, []float64{1, 1}; !reflect.DeepEqual(got, w) {
		t.Errorf("current new_users = %v, want %v (u9 is new, u2 known)", got, w)
	}
	if got, w := cur[FeatureNewMovies].Counts, []float64{1, 1}; !reflect.DeepEqual(got, w) {
		t.Errorf("current new_movies = %v, want %v (m7 is new)", got, w)
	}
	if got, w := cur[FeatureActivity], (Distribution{Kind: Numerical, Values: []float64{1}, Counts: []float64{1}}); !reflect.DeepEqual(got, w) {
		t.Errorf("current user_activity = %+v, want %+v (u2 has one known event, u9 is new)", got, w)
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
		user := fmt.Sprintf("u%d", i%21)
		refEvs = append(refEvs, rating(fmt.Sprint("r", i), user, "m1", r, i))
		same = append(same, rating(fmt.Sprint("s", i), user, "m1", r, 1000+i))
		low := math.Max(1, r-1)
		shifted = append(shifted, rating(fmt.Sprint("x", i), fmt.Sprintf("v%d", i%21), "m2", low, 1000+i))
	}
	ref := NewReference(refEvs, cfg.PopularityBuckets, 1)
	if n := len(ref.measured); n < 250 || n > 350 {
		t.Fatalf("measuring half of 600 events: %d, want about 300", n)
	}

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

	// Ratings lower, by users and on a movie the reference does not know:
	// rating, movie_popularity, new_users and new_movies drift; the swipe
	// mix (all ratings) and the genre mix (no catalog) do not, and
	// user_activity has no known user to measure.
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
	if f, _ := rep.Feature(FeatureActivity); f.Skipped == "" {
		t.Errorf("user_activity without known users: %+v, want skipped", f)
	}
	if rep.Evaluated != 6 || rep.Drifted != 4 || rep.Share != 4.0/6 || !rep.DatasetDrift || rep.Alert != AlertHigh {
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
	ref := refOf([]events.Event{rating("a", "u1", "m1", 4, 0)}, []events.Event{rating("b", "u1", "m1", 3, 1)}, 10)
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
		"popularity_buckets":  func(c *Config) { c.PopularityBuckets = 0 },
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

// TestReportJSONRoundTrip: a report read back from its JSON (NATS, the
// store) is the report, with the reference's population and model version.
func TestReportJSONRoundTrip(t *testing.T) {
	var evs []events.Event
	for i := range 50 {
		evs = append(evs, rating(fmt.Sprint("e", i), fmt.Sprintf("u%d", i%7), fmt.Sprintf("m%d", i%4), float64(1+i%5), i))
	}
	rep, err := Compare(DefaultConfig(), NewReference(evs, 10, 3), evs, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	rep.ModelVersion = 7
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rep) {
		t.Errorf("report after JSON:\n%+v\nwant\n%+v", back, rep)
	}
	if back.ModelVersion != 7 || back.Reference.Population != 50 || !strings.Contains(string(b), `"population":50`) {
		t.Errorf("model version %d, population %d in %s", back.ModelVersion, back.Reference.Population, b)
	}
}
