package recommend

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func familyConfig(f Family) Config {
	c := Config{Family: f, Factors: 4, RatingFactors: 4, EASEReg: 10, Neighbors: 20, Shrink: 1, IALSReg: 0.01, IALSUnobserved: 0.1}
	if f == FamilyEnsemble {
		c.SVDFactors, c.EnsembleWeights = 3, [3]float64{0.3, 0.3, 0.4}
	}
	return c
}

// testFamilies is every family a model can serve.
var testFamilies = append(append([]Family(nil), Families...), FamilyEnsemble)

// Every family follows the two taste groups of world (popularity cannot).
func TestFamiliesFollowTaste(t *testing.T) {
	ts := world(40, 30, 1)
	for _, f := range []Family{FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN, FamilyEnsemble} {
		t.Run(string(f), func(t *testing.T) {
			cfg := familyConfig(f)
			cfg.Alpha = 1 // collaborative only: content alone would also follow the genres
			m, err := Fit(ts, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if m.Family() != f {
				t.Fatalf("family %s", m.Family())
			}
			for _, tc := range []struct{ user, want string }{{"u0", "A"}, {"u39", "R"}} {
				res, err := m.Recommend(Query{User: tc.user, K: 5})
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range res.Items {
					if it.MovieID[:1] != tc.want {
						t.Errorf("%s got %s, want genre %s", tc.user, it.MovieID, tc.want)
					}
				}
			}
		})
	}
}

// Popularity ranks by the number of users with a signal, whatever they liked.
func TestPopularityFamilyRanksByCount(t *testing.T) {
	var ts TrainSet
	for u := 0; u < 10; u++ {
		for j := 0; j <= u%5; j++ { // movie m0 by all, m4 by 2 users
			ts.Interactions = append(ts.Interactions, Interaction{User: fmt.Sprintf("u%d", u), Movie: fmt.Sprintf("m%d", j), Value: 1})
		}
	}
	ts.Interactions = append(ts.Interactions, Interaction{User: "v", Movie: "m9", Value: 5})
	m, err := Fit(ts, Config{Family: FamilyPopularity, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Recommend(Query{User: "v", K: 5})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range res.Items {
		got = append(got, it.MovieID)
	}
	if want := []string{"m0", "m1", "m2", "m3", "m4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("popularity ranks %v, want %v", got, want)
	}
	if _, ok := m.Because("v", "m0"); ok {
		t.Error("popularity explained a recommendation")
	}
}

// randomBinary returns a users x items interaction set with density p.
func randomBinary(users, items int, p float64, seed uint64) TrainSet {
	rng := rand.New(rand.NewPCG(seed, 7))
	var ts TrainSet
	for u := 0; u < users; u++ {
		for i := 0; i < items; i++ {
			if rng.Float64() < p || i == u%items {
				ts.Interactions = append(ts.Interactions, Interaction{User: fmt.Sprintf("u%02d", u), Movie: fmt.Sprintf("m%02d", i), Value: float64(1 + rng.IntN(5))})
			}
		}
	}
	return ts
}

// EASE's B against a direct dense inverse: B = I - P diag(1/diag P),
// P = (X^T X + lambda I)^-1.
func TestEASEMatchesDenseInverse(t *testing.T) {
	ts := randomBinary(30, 12, 0.3, 1)
	const lambda = 5
	m, err := Fit(ts, Config{Family: FamilyEASE, EASEReg: lambda, LowWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := m.items.Len()
	x := mat.NewDense(m.users.Len(), n, nil)
	for _, it := range ts.Interactions {
		u, _ := m.users.Lookup(it.User)
		i, _ := m.items.Lookup(it.Movie)
		x.Set(int(u), int(i), 1)
	}
	var g mat.Dense
	g.Mul(x.T(), x)
	for i := 0; i < n; i++ {
		g.Set(i, i, g.At(i, i)+lambda)
	}
	var p mat.Dense
	if err := p.Inverse(&g); err != nil {
		t.Fatal(err)
	}
	if m.ease.n != n {
		t.Fatalf("EASE models %d of %d movies", m.ease.n, n)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			want := 0.0
			if i != j {
				want = -p.At(i, j) / p.At(j, j)
			}
			if got := float64(m.ease.b[i*n+j]); math.Abs(got-want) > 1e-4 {
				t.Fatalf("B[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
	}
	// Scores are x_u B: check one user's.
	st := m.user("u03")
	s := m.getScratch()
	m.collabScores(st, s)
	for j := 0; j < n; j++ {
		var want float64
		for i := 0; i < n; i++ {
			want += x.At(3, i) * (func() float64 {
				if i == j {
					return 0
				}
				return -p.At(i, j) / p.At(j, j)
			})()
		}
		if math.Abs(float64(s.collab[j])-want) > 1e-4 {
			t.Errorf("score of movie %d = %v, want %v", j, s.collab[j], want)
		}
	}
}

// With a catalog cap EASE models the most-rated movies only.
func TestEASECapsItsCatalog(t *testing.T) {
	ts := randomBinary(30, 12, 0.3, 2)
	m, err := Fit(ts, Config{Family: FamilyEASE, EASEMaxItems: 5})
	if err != nil {
		t.Fatal(err)
	}
	if m.ease.n != 5 || m.Stats().EASEItems != 5 {
		t.Fatalf("EASE models %d movies, want 5", m.ease.n)
	}
}

// iALS fold-in against the exact minimiser of the user's full dense
// objective: every movie weighted alpha0, observed ones 1 + alpha0 with
// target 1/(1+alpha0)... written as normal equations with a dense matrix.
func TestIALSFoldInMatchesDenseSolve(t *testing.T) {
	ts := randomBinary(40, 15, 0.3, 3)
	cfg := Config{Family: FamilyIALS, Factors: 5, IALSReg: 0.05, IALSUnobserved: 0.3, IALSIters: 6, LowWeight: 1}
	m, err := Fit(ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rated := []Rated{{"m01", 4}, {"m04", 2}, {"m07", 5}, {"m09", 0}} // m09 seen only
	d := m.FoldUser("new", rated)
	n, k := m.items.Len(), m.k
	q := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		for f := 0; f < k; f++ {
			q.Set(i, f, float64(m.v[i*k+f]))
		}
	}
	c := mat.NewDiagDense(n, nil)
	y := mat.NewVecDense(n, nil)
	obs := 0
	for i := 0; i < n; i++ {
		c.SetDiag(i, cfg.IALSUnobserved)
	}
	for _, r := range rated[:3] {
		i, _ := m.items.Lookup(r.Movie)
		c.SetDiag(int(i), 1+cfg.IALSUnobserved)
		y.SetVec(int(i), 1)
		obs++
	}
	var qc, a mat.Dense
	qc.Mul(q.T(), c)
	a.Mul(&qc, q)
	reg := cfg.IALSReg * (float64(obs) + cfg.IALSUnobserved*float64(n))
	for f := 0; f < k; f++ {
		a.Set(f, f, a.At(f, f)+reg)
	}
	// The right-hand side is sum over observed of q_i (target 1, weight 1).
	var b mat.VecDense
	b.MulVec(q.T(), y)
	var want mat.VecDense
	if err := want.SolveVec(&a, &b); err != nil {
		t.Fatal(err)
	}
	for f := 0; f < k; f++ {
		if math.Abs(float64(d.Factors[f])-want.AtVec(f)) > 1e-4 {
			t.Errorf("factor %d: fold-in %v, dense %v", f, d.Factors[f], want.AtVec(f))
		}
	}
	// The fit converges to the same fixed point for a fitted user.
	st := m.user("u05")
	var rr []Rated
	for p, i := range st.items {
		rr = append(rr, Rated{Movie: m.items.ID(i), Value: st.values[p]})
	}
	refold := m.FoldUser("u05", rr)
	var diff, norm float64
	for f := range refold.Factors {
		diff += math.Pow(float64(refold.Factors[f]-st.vec[f]), 2)
		norm += math.Pow(float64(st.vec[f]), 2)
	}
	if math.Sqrt(diff) > 0.05*math.Sqrt(norm) {
		t.Errorf("fitted user differs from an exact solve by %.3g (norm %.3g)", math.Sqrt(diff), math.Sqrt(norm))
	}
}

// kNN similarity by hand: users {A,B}, {A,B}, {A,C}: n_A = 3, n_B = 2,
// c_AB = 2, so sim(A,B) = 2/(sqrt 6 + shrink).
func TestKNNSimilarityByHand(t *testing.T) {
	ts := TrainSet{Interactions: []Interaction{{"1", "A", 5}, {"1", "B", 4}, {"2", "A", 3}, {"2", "B", 5}, {"3", "A", 4}, {"3", "C", 1}}}
	const shrink = 2
	m, err := Fit(ts, Config{Family: FamilyKNN, Neighbors: 5, Shrink: shrink, LowWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.items.Lookup("A")
	b, _ := m.items.Lookup("B")
	c, _ := m.items.Lookup("C")
	for _, tc := range []struct {
		i, j int32
		want float64
	}{{a, b, 2 / (math.Sqrt(6) + shrink)}, {a, c, 1 / (math.Sqrt(3) + shrink)}, {b, a, 2 / (math.Sqrt(6) + shrink)}} {
		got, ok := m.knn.find(tc.i, tc.j)
		if !ok || math.Abs(float64(got)-tc.want) > 1e-6 {
			t.Errorf("sim(%d,%d) = %v (%v), want %v", tc.i, tc.j, got, ok, tc.want)
		}
	}
	if _, ok := m.knn.find(b, c); ok {
		t.Error("B and C share no user but are neighbours")
	}
}

// A Value of 0 is seen only: excluded from the user's recommendations,
// listed by Seen, no signal (the user stays cold with nothing else).
func TestSeenOnlyInteractions(t *testing.T) {
	ts := world(40, 30, 1)
	ts.Interactions = append(ts.Interactions, Interaction{"skipper", "A1", 0}, Interaction{"skipper", "A2", 0})
	for _, f := range []Family{FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN, FamilyPopularity} {
		m, err := Fit(ts, familyConfig(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		res, err := m.Recommend(Query{User: "skipper", K: 60})
		if err != nil {
			t.Fatal(err)
		}
		if !res.ColdStart {
			t.Errorf("%s: a user with only skips is not cold", f)
		}
		for _, it := range res.Items {
			if it.MovieID == "A1" || it.MovieID == "A2" {
				t.Errorf("%s: skipped %s recommended", f, it.MovieID)
			}
		}
		if got := m.Seen("skipper"); len(got) != 2 {
			t.Errorf("%s: Seen = %v", f, got)
		}
		// A skip does not count as popularity.
		if c := m.Catalog(); c[0].ID == "A1" && c[0].Raters != countRaters(ts, "A1")-1 {
			t.Errorf("%s: skip counted as a rater", f)
		}
		// Folding in a skip changes nothing but exclusion.
		d := m.FoldUser("u0", append(ratedOf(m, "u0"), Rated{"R29", 0}))
		base := m.FoldUser("u0", ratedOf(m, "u0"))
		if !reflect.DeepEqual(d.Factors, base.Factors) || !reflect.DeepEqual(d.RatingFactors, base.RatingFactors) {
			t.Errorf("%s: a skip moved the user's vectors", f)
		}
	}
}

func countRaters(ts TrainSet, movie string) int {
	n := 0
	for _, it := range ts.Interactions {
		if it.Movie == movie {
			n++
		}
	}
	return n
}

func ratedOf(m *Model, user string) []Rated {
	st := m.user(user)
	var out []Rated
	for p, i := range st.items {
		out = append(out, Rated{Movie: m.items.ID(i), Value: st.values[p]})
	}
	return out
}

// Fold-in per family: a new user who loves romances gets romances; a fitted
// user folded in again gets what the fit gave them.
func TestFoldInEveryFamily(t *testing.T) {
	ts := world(40, 30, 1)
	for _, f := range []Family{FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN, FamilyEnsemble} {
		cfg := familyConfig(f)
		cfg.Alpha = 1
		m, err := Fit(ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var rated []Rated
		for j := 0; j < 6; j++ {
			rated = append(rated, Rated{Movie: fmt.Sprintf("R%d", j), Value: 5})
		}
		mv := m.FoldMovie(MovieInfo{ID: "R-new", Title: "Romance Story New", Genres: []string{"Romance"}}, []Rater{{"u30", 5}, {"u31", 4.5}})
		if err := m.Apply(Delta{BaseVersion: m.Version, Movies: []MovieDelta{mv}, Users: []UserDelta{m.FoldUser("newbie", rated)}}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		res, err := m.Recommend(Query{User: "newbie", K: 5})
		if err != nil || res.ColdStart {
			t.Fatalf("%s: %v cold=%v", f, err, res.ColdStart)
		}
		for _, it := range res.Items {
			if it.MovieID[:1] != "R" {
				t.Errorf("%s: romance fan got %s", f, it.MovieID)
			}
		}
		if _, ok := m.Movie("R-new"); !ok {
			t.Errorf("%s: folded-in movie unknown", f)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestBecause(t *testing.T) {
	ts := world(40, 30, 1)
	for _, f := range []Family{FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN, FamilyEnsemble} {
		m, err := Fit(ts, familyConfig(f))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := m.Recommend(Query{User: "u0", K: 3})
		liked := map[string]bool{}
		for _, r := range ratedOf(m, "u0") {
			if r.Value > 3 {
				liked[r.Movie] = true
			}
		}
		for _, it := range res.Items {
			b, ok := m.Because("u0", it.MovieID)
			if !ok || !liked[b] || b[:1] != "A" {
				t.Errorf("%s: because(u0, %s) = %q %v, want an action movie u0 liked", f, it.MovieID, b, ok)
			}
		}
		if _, ok := m.Because("nobody", "A1"); ok {
			t.Errorf("%s: explained for a cold user", f)
		}
		if _, ok := m.Because("u0", "no-such-movie"); ok {
			t.Errorf("%s: explained an unknown movie", f)
		}
	}
}

func TestSnapshotEveryFamily(t *testing.T) {
	ts := world(30, 20, 2)
	for _, f := range testFamilies {
		m, err := Fit(ts, familyConfig(f))
		if err != nil {
			t.Fatal(err)
		}
		m.Version = 3
		if err := m.Apply(Delta{BaseVersion: 3, Users: []UserDelta{m.FoldUser("late", []Rated{{"A1", 5}, {"A2", 0}})},
			Movies: []MovieDelta{m.FoldMovie(MovieInfo{ID: "X1", Title: "Extra", Genres: []string{"Action"}}, []Rater{{"u1", 5}})}}); err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, u := range []string{"u0", "u29", "late", "nobody"} {
			a, _ := m.Recommend(Query{User: u, K: 10})
			c, _ := got.Recommend(Query{User: u, K: 10})
			if !reflect.DeepEqual(a, c) {
				t.Errorf("%s %s: decoded model answers %v, want %v", f, u, c, a)
			}
		}
		if b2, _ := got.MarshalBinary(); string(b2) != string(b) {
			t.Errorf("%s: re-encoding differs", f)
		}
		cl := m.Clone()
		if b3, _ := cl.MarshalBinary(); string(b3) != string(b) {
			t.Errorf("%s: clone encodes differently", f)
		}
		// The clone shares nothing mutable.
		if err := cl.Apply(Delta{BaseVersion: 3, Users: []UserDelta{cl.FoldUser("u0", []Rated{{"R1", 5}})}}); err != nil {
			t.Fatal(err)
		}
		if b4, _ := m.MarshalBinary(); string(b4) != string(b) {
			t.Errorf("%s: a delta on the clone changed the original", f)
		}
	}
}

// Non-finite numbers are refused by Validate, by Decode and by Apply, with
// an error naming what.
func TestNonFiniteRefused(t *testing.T) {
	for _, f := range testFamilies {
		m, err := Fit(world(20, 10, 4), familyConfig(f))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: fitted model invalid: %v", f, err)
		}
		bad := m.Clone()
		var where string
		switch {
		case len(bad.v) > 0:
			bad.v[3], where = float32(math.NaN()), "item factors"
		case bad.ease != nil:
			bad.ease.b[1], where = float32(math.Inf(1)), "EASE weights"
		case bad.knn != nil:
			bad.knn.val[0], where = float32(math.NaN()), "kNN similarities"
		default:
			bad.popularity[2], where = float32(math.Inf(-1)), "popularity"
		}
		err = bad.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), where) {
			t.Errorf("%s: Validate = %v, want an error naming %s", f, err, where)
		}
		b, err := bad.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), where) {
			t.Errorf("%s: Decode = %v", f, err)
		}
		ud := m.FoldUser("x", []Rated{{"A1", 5}})
		ud.RatingBias = float32(math.NaN())
		if err := m.Apply(Delta{BaseVersion: m.Version, Users: []UserDelta{ud}}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Apply of a NaN delta = %v", f, err)
		}
	}
	m := fitWorld(t)
	m.rating.mu = math.NaN()
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "rating mean") {
		t.Errorf("NaN mean: %v", err)
	}
}

func TestFormat1Refused(t *testing.T) {
	m := fitWorld(t)
	b, _ := m.MarshalBinary()
	b[len(snapshotMagic)] = 1 // format field
	body := b[:len(b)-32]
	sum := sha256Sum(body)
	b = append(body, sum...)
	if _, err := Decode(b); !errors.Is(err, ErrFormat1) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("format 1: %v", err)
	}
}

func TestDeltaCodec(t *testing.T) {
	m := fitWorld(t)
	d := Delta{BaseVersion: 4, Seq: 9, NewestEventMillis: 1234,
		Movies: []MovieDelta{m.FoldMovie(MovieInfo{ID: "X", Title: "Extra (2001)", Year: 2001, Genres: []string{"Action"}, Tags: []string{"loud"}}, []Rater{{"u1", 5}, {"u2", 0}})},
		Users:  []UserDelta{m.FoldUser("a", []Rated{{"A1", 5}, {"A2", 0}}), m.FoldUser("b", nil)}}
	b, err := EncodeDelta(d)
	if err != nil {
		t.Fatal(err)
	}
	want := DeltaOverhead
	for _, md := range d.Movies {
		want += md.EncodedSize()
	}
	for _, ud := range d.Users {
		want += ud.EncodedSize()
	}
	if len(b) > want || len(b) < want-2*9 {
		t.Errorf("encoding is %d bytes; overhead plus records = %d", len(b), want)
	}
	got, err := DecodeDelta(b)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(d Delta) Delta { // nil and empty slices are the same on the wire
		for i := range d.Users {
			if len(d.Users[i].Rated) == 0 {
				d.Users[i].Rated = nil
			}
		}
		return d
	}
	if !reflect.DeepEqual(norm(got), norm(d)) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, d)
	}
	b[len(b)/2] ^= 4
	if _, err := DecodeDelta(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: %v", err)
	}
	d.Users[0].Factors = []float32{float32(math.Inf(1))}
	if _, err := EncodeDelta(d); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Inf encoded: %v", err)
	}
}

func FuzzDecodeDelta(f *testing.F) {
	m := fitWorld(f)
	b, _ := EncodeDelta(Delta{BaseVersion: 1, Users: []UserDelta{m.FoldUser("a", []Rated{{"A1", 5}})},
		Movies: []MovieDelta{m.FoldMovie(MovieInfo{ID: "X"}, nil)}})
	f.Add(b)
	f.Add([]byte(deltaMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4 { // re-sign so the fuzzer explores the decoder
			data = append(data[:len(data)-4:len(data)-4], crcOf(data[:len(data)-4])...)
		}
		d, err := DecodeDelta(data)
		if err == nil {
			if _, err := EncodeDelta(d); err != nil {
				t.Fatalf("decoded delta does not encode: %v", err)
			}
			_ = m.Clone().Apply(d)
		}
	})
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func crcOf(b []byte) []byte {
	var out [4]byte
	binary.LittleEndian.PutUint32(out[:], crc32.Checksum(b, crcTable))
	return out[:]
}
