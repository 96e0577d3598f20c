package recommend

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// world builds a small catalog with two taste groups: users 0..n/2 love
// action movies and dislike romance, the others the opposite.
func world(users, perGenre int, seed uint64) TrainSet {
	rng := rand.New(rand.NewPCG(seed, 1))
	var ts TrainSet
	for g, genre := range []string{"Action", "Romance"} {
		for j := 0; j < perGenre; j++ {
			ts.Movies = append(ts.Movies, MovieInfo{ID: fmt.Sprintf("%s%d", genre[:1], j),
				Title: fmt.Sprintf("%s Story %d (199%d)", genre, j, g), Genres: []string{genre}})
		}
	}
	for u := 0; u < users; u++ {
		likes := "A"
		if u >= users/2 {
			likes = "R"
		}
		for _, mv := range ts.Movies {
			if rng.Float64() > 0.5 {
				continue
			}
			v := 1.0 + rng.Float64()
			if mv.ID[:1] == likes {
				v = 4 + rng.Float64()
			}
			ts.Interactions = append(ts.Interactions, Interaction{User: fmt.Sprintf("u%d", u), Movie: mv.ID, Value: float64(int(v*2)) / 2})
		}
	}
	return ts
}

func fitWorld(t testing.TB) *Model {
	t.Helper()
	m, err := Fit(world(40, 30, 1), Config{Factors: 4, RatingFactors: 4})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRecommendFollowsTaste(t *testing.T) {
	m := fitWorld(t)
	for _, tc := range []struct {
		user, want string
	}{{"u0", "A"}, {"u39", "R"}} {
		res, err := m.Recommend(Query{User: tc.user, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		if res.ColdStart || len(res.Items) != 5 {
			t.Fatalf("%s: cold=%v items=%d", tc.user, res.ColdStart, len(res.Items))
		}
		st := m.user(tc.user)
		seen := map[string]bool{}
		for _, i := range st.items {
			seen[m.items.ID(i)] = true
		}
		for _, it := range res.Items {
			if it.MovieID[:1] != tc.want {
				t.Errorf("%s got %s, want genre %s", tc.user, it.MovieID, tc.want)
			}
			if seen[it.MovieID] {
				t.Errorf("%s got seen movie %s", tc.user, it.MovieID)
			}
		}
	}
}

func TestRecommendColdStartAndFilters(t *testing.T) {
	m := fitWorld(t)
	res, err := m.Recommend(Query{User: "nobody", K: 3, Genres: []string{"Romance"}, Exclude: []string{"R0"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ColdStart || len(res.Items) != 3 {
		t.Fatalf("cold=%v items=%v", res.ColdStart, res.Items)
	}
	for _, it := range res.Items {
		if it.MovieID[:1] != "R" || it.MovieID == "R0" {
			t.Errorf("filter let through %s", it.MovieID)
		}
	}
	page2, _ := m.Recommend(Query{User: "nobody", K: 2, Offset: 1, Genres: []string{"Romance"}, Exclude: []string{"R0"}})
	if page2.Items[0].MovieID != res.Items[1].MovieID {
		t.Errorf("offset 1 starts with %s, want %s", page2.Items[0].MovieID, res.Items[1].MovieID)
	}
	for _, q := range []Query{{User: "u0", K: 0}, {User: "u0", K: 1, Offset: -1}, {User: "u0", K: 1, Genres: []string{"Opera"}}} {
		var qe *QueryError
		if _, err := m.Recommend(q); !errors.As(err, &qe) || !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: err = %v, want a QueryError", q, err)
		}
	}
}

func TestFoldInNewUserAndMovie(t *testing.T) {
	m := fitWorld(t)
	var rated []Rated
	for j := 0; j < 5; j++ {
		rated = append(rated, Rated{Movie: fmt.Sprintf("R%d", j), Value: 5})
	}
	mv := m.FoldMovie(MovieInfo{ID: "R-new", Title: "Romance Story New (2001)", Genres: []string{"Romance"}},
		[]Rater{{"u30", 5}, {"u31", 4.5}, {"u35", 5}, {"u2", 1}})
	d := Delta{BaseVersion: m.Version, Movies: []MovieDelta{mv}, Users: []UserDelta{m.FoldUser("newbie", rated)}}
	if err := m.Apply(d); err != nil {
		t.Fatal(err)
	}
	res, err := m.Recommend(Query{User: "newbie", K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.ColdStart {
		t.Fatal("folded-in user is still cold")
	}
	for _, it := range res.Items {
		if it.MovieID[:1] != "R" {
			t.Errorf("newbie got %s", it.MovieID)
		}
		if it.MovieID == "R0" {
			t.Errorf("seen movie returned")
		}
	}
	// The folded-in movie ranks with the other romances, above every action
	// movie, for a romance lover: it is among the 26 unseen romances.
	all, err := m.Recommend(Query{User: "newbie", K: 26})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range all.Items {
		found = found || it.MovieID == "R-new"
	}
	if !found {
		t.Errorf("folded-in movie R-new is not among newbie's top 26: %v", all.Items)
	}
	if r := m.Predict("u30", "R-new"); r < 3.5 {
		t.Errorf("romance fan's estimate for the new romance = %.2f", r)
	}
	if err := m.Apply(Delta{BaseVersion: m.Version + 1}); !errors.Is(err, ErrVersion) {
		t.Errorf("wrong version: %v", err)
	}
}

func TestFoldUserMatchesFit(t *testing.T) {
	m := fitWorld(t)
	st := m.user("u3")
	var rated []Rated
	for p, i := range st.items {
		rated = append(rated, Rated{Movie: m.items.ID(i), Value: st.values[p]})
	}
	d := m.FoldUser("u3", rated)
	for f := range d.Factors {
		if diff := d.Factors[f] - st.vec[f]; diff > 1e-4 || diff < -1e-4 {
			t.Fatalf("factor %d: fold-in %v, fit %v", f, d.Factors[f], st.vec[f])
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	m := fitWorld(t)
	m.Version = 7
	if err := m.Apply(Delta{BaseVersion: 7, Users: []UserDelta{m.FoldUser("late", []Rated{{"A1", 5}})},
		Movies: []MovieDelta{m.FoldMovie(MovieInfo{ID: "X1", Title: "Extra", Genres: []string{"Action"}}, []Rater{{"u1", 5}})}}); err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 7 || !reflect.DeepEqual(got.Stats(), m.Stats()) {
		t.Fatalf("stats %+v, want %+v", got.Stats(), m.Stats())
	}
	for _, u := range []string{"u0", "u39", "late", "nobody"} {
		a, _ := m.Recommend(Query{User: u, K: 10})
		b, _ := got.Recommend(Query{User: u, K: 10})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: decoded model answers %v, want %v", u, b, a)
		}
	}
	b2, _ := got.MarshalBinary()
	if string(b2) != string(b) {
		t.Error("re-encoding differs")
	}
	b[len(b)/2] ^= 1
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, fam := range testFamilies {
		m, err := Fit(world(12, 6, 1), familyConfig(fam))
		if err != nil {
			f.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Re-sign the input so the fuzzer explores the decoder, not sha256.
		if len(data) > 32 {
			body := data[:len(data)-32]
			sum := sha256.Sum256(body)
			data = append(body[:len(body):len(body)], sum[:]...)
		}
		m, err := Decode(data)
		if err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("decoded model is invalid: %v", err)
			}
			m.Recommend(Query{User: "u0", K: 3})
			m.Because("u0", "A1")
			m.Similar("A1", 3)
			m.FoldUser("u0", []Rated{{"A1", 5}})
		}
	})
}

// The conjugate-gradient fold-in must reach the exact least-squares
// solution that a Cholesky solve of the normal equations gives.
func TestFoldUserSolvesExactly(t *testing.T) {
	m := fitWorld(t)
	rated := []Rated{{"A1", 5}, {"A2", 4.5}, {"R3", 1}, {"A7", 4}}
	d := m.FoldUser("fresh", rated)
	var idx []int32
	var val []float32
	for _, r := range rated {
		i, _ := m.items.Lookup(r.Movie)
		idx = append(idx, i)
		val = append(val, r.Value)
	}
	rm := m.rating
	x := newSolver(rm.k+1).solveRow(idx, val, rm.q, rm.bi, rm.mu,
		alsParams{factors: rm.k, reg: m.cfg.RatingReg, biasReg: m.cfg.BiasReg})
	for f := 0; f < rm.k; f++ {
		if diff := float64(d.RatingFactors[f]) - x[f]; diff > 1e-5 || diff < -1e-5 {
			t.Errorf("factor %d: fold-in %v, exact %v", f, d.RatingFactors[f], x[f])
		}
	}
	if diff := float64(d.RatingBias) - x[rm.k]; diff > 1e-5 || diff < -1e-5 {
		t.Errorf("bias: fold-in %v, exact %v", d.RatingBias, x[rm.k])
	}
}

// A fit is a function of its input and seed: two fits give the same bytes,
// whatever the scheduling of the parallel parts; another seed differs.
func TestFitDeterministic(t *testing.T) {
	ts := world(60, 40, 3)
	encode := func(cfg Config) []byte {
		m, err := Fit(ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg := Config{Factors: 6, RatingFactors: 6, Workers: 2}
	a, b := encode(cfg), encode(cfg)
	if string(a) != string(b) {
		t.Error("two fits with the same seed differ")
	}
	cfg.Seed = 99
	if string(encode(cfg)) == string(a) {
		t.Error("another seed gave the same model")
	}
}

// A delta that updates a known movie's catalog entry moves it between
// genre filters.
func TestDeltaUpdatesGenres(t *testing.T) {
	m := fitWorld(t)
	st := m.user("u1")
	var raters []Rater
	for p := range st.items[:3] {
		raters = append(raters, Rater{User: "u1", Value: st.values[p]})
	}
	md := m.FoldMovie(MovieInfo{ID: "A0", Title: "Action Story 0, recut", Genres: []string{"Romance"}}, raters)
	if err := m.Apply(Delta{BaseVersion: m.Version, Movies: []MovieDelta{md}}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Recommend(Query{User: "nobody", K: 100, Genres: []string{"Romance"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range res.Items {
		found = found || it.MovieID == "A0"
	}
	if !found {
		t.Error("A0 is not found under its new genre")
	}
	res, _ = m.Recommend(Query{User: "nobody", K: 100, Genres: []string{"Action"}})
	for _, it := range res.Items {
		if it.MovieID == "A0" {
			t.Error("A0 is still filed under its old genre")
		}
	}
}
