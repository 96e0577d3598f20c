package recommend

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// randomRatings is a users x items matrix with about density of its cells
// rated on the half-star scale, with user and item effects.
func randomRatings(users, items int, density float64, seed uint64) *csr {
	rng := rand.New(rand.NewPCG(seed, 3))
	ub := make([]float64, users)
	for u := range ub {
		ub[u] = rng.NormFloat64() * 0.5
	}
	var es []Entry
	for u := 0; u < users; u++ {
		for i := 0; i < items; i++ {
			if rng.Float64() < density {
				v := 3 + ub[u] + 0.3*float64(i%5-2) + rng.NormFloat64()*0.7
				v = math.Round(math.Max(0.5, math.Min(5, v))*2) / 2
				es = append(es, Entry{int32(u), int32(i), float32(v)})
			}
		}
	}
	return newCSR(users, items, es)
}

// TestKNNBaselineMatchesDenseReference checks Koren's neighbourhood
// predictor against a direct dense computation: the baseline by the same
// alternating closed forms, the shrunk Pearson-baseline similarity of every
// pair, and the weighted mean of the k most similar rated movies.
func TestKNNBaselineMatchesDenseReference(t *testing.T) {
	const nu, ni = 40, 15
	r := randomRatings(nu, ni, 0.5, 7)
	prm := knnBaseParams{k: 4, keep: ni, shrink: 5, itemReg: 3, userReg: 2, workers: 2}
	m := fitKNNBaseline(r, r.transpose(), prm)

	dense := make([][]float64, nu) // 0: unrated
	var sum float64
	for u := range dense {
		dense[u] = make([]float64, ni)
		idx, val := r.row(u)
		for p, i := range idx {
			dense[u][i] = float64(val[p])
			sum += float64(val[p])
		}
	}
	mu := sum / float64(r.nnz())
	bu, bi := make([]float64, nu), make([]float64, ni)
	for range 10 {
		for i := 0; i < ni; i++ {
			var s, n float64
			for u := 0; u < nu; u++ {
				if dense[u][i] > 0 {
					s += dense[u][i] - mu - bu[u]
					n++
				}
			}
			bi[i] = s / (prm.itemReg + n)
		}
		for u := 0; u < nu; u++ {
			var s, n float64
			for i := 0; i < ni; i++ {
				if dense[u][i] > 0 {
					s += dense[u][i] - mu - bi[i]
					n++
				}
			}
			bu[u] = s / (prm.userReg + n)
		}
	}
	res := func(u, i int) float64 { return dense[u][i] - mu - bu[u] - bi[i] }
	sim := func(i, j int) float64 {
		var xy, xx, yy, n float64
		for u := 0; u < nu; u++ {
			if dense[u][i] > 0 && dense[u][j] > 0 {
				xy += res(u, i) * res(u, j)
				xx += res(u, i) * res(u, i)
				yy += res(u, j) * res(u, j)
				n++
			}
		}
		if xx == 0 || yy == 0 {
			return 0
		}
		return n / (n + prm.shrink) * xy / math.Sqrt(xx*yy)
	}
	var ku knnUser
	for u := 0; u < nu; u++ {
		idx, val := r.row(u)
		m.user(idx, val, &ku)
		for i := 0; i < ni; i++ {
			type nb struct{ s, r float64 }
			var nbs []nb
			for j := 0; j < ni; j++ {
				if j != i && dense[u][j] > 0 {
					if s := sim(i, j); s > 0 {
						nbs = append(nbs, nb{s, res(u, j)})
					}
				}
			}
			sort.Slice(nbs, func(a, b int) bool { return nbs[a].s > nbs[b].s })
			want := mu + bu[u] + bi[i]
			base := want
			var num, den float64
			for _, x := range nbs[:min(len(nbs), prm.k)] {
				num += x.s * x.r
				den += x.s
			}
			if den > 0 {
				want += num / den
			}
			got, gotBase, _ := m.predict(&ku, int32(i))
			if math.Abs(got-want) > 1e-4 || math.Abs(gotBase-base) > 1e-4 {
				t.Fatalf("user %d movie %d: %v (baseline %v), want %v (%v)", u, i, got, gotBase, want, base)
			}
		}
	}
}

// TestFitBlendRecoversWeights fits the blend's weights to targets that are
// an exact linear function of the features.
func TestFitBlendRecoversWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var want [BlendFeatures]float64
	for j := range want {
		want[j] = rng.NormFloat64()
	}
	var x [][BlendFeatures]float64
	var y []float64
	for range 500 {
		c := [3]float64{1 + 4*rng.Float64(), 1 + 4*rng.Float64(), 1 + 4*rng.Float64()}
		var row [BlendFeatures]float64
		blendFeatures(c, 5*rng.Float64(), 5*rng.Float64(), &row)
		x = append(x, row)
		y = append(y, blended(&want, c, row[4], row[8]))
	}
	got, ok := fitBlend(x, y)
	if !ok {
		t.Fatal("not fitted")
	}
	for j := range want {
		if math.Abs(got[j]-want[j]) > 1e-4 {
			t.Fatalf("weight %d: %v, want %v", j, got[j], want[j])
		}
	}
}

// blendConfig is a rating blend that weighs the MF, the neighbourhood
// predictor and its baseline with a little of each support feature.
func blendConfig() Config {
	c := Config{Factors: 4, RatingFactors: 4}
	c.RatingBlend = [BlendFeatures]float64{0.1, 0.5, 0.3, 0.2, 0.01, 0.02, -0.01, 0, -0.02, 0.01, 0, 0.01}
	return c
}

// TestRatingBlendServesFoldsInAndRoundTrips: a blended estimate is the
// blend of its parts, a folded-in user with the ratings of a fitted one is
// estimated alike, and the snapshot carries it.
func TestRatingBlendServesFoldsInAndRoundTrips(t *testing.T) {
	m, err := Fit(world(40, 30, 1), blendConfig())
	if err != nil {
		t.Fatal(err)
	}
	if m.rating.nbr == nil {
		t.Fatal("no neighbourhood predictor")
	}
	st := m.user("u3")
	var ku knnUser
	e := m.estimator(st, &ku)
	i, _ := m.items.Lookup("R2")
	kn, base, li := m.rating.nbr.predict(&ku, i)
	want := blended(&m.cfg.RatingBlend, [3]float64{m.mfEstimate(st, i), kn, base}, ku.lu, li)
	if got := e.predict(i); math.Abs(got-math.Max(0.5, math.Min(5, want))) > 1e-9 {
		t.Fatalf("estimate %v, want the blend %v", got, want)
	}
	var rated []Rated
	for p, j := range st.items {
		rated = append(rated, Rated{Movie: m.items.ID(j), Value: st.values[p]})
	}
	m.Version = 2
	if err := m.Apply(Delta{BaseVersion: 2, Users: []UserDelta{m.FoldUser("twin", rated)}}); err != nil {
		t.Fatal(err)
	}
	for _, mv := range []string{"A1", "R2", "R7"} {
		a, b := m.Predict("u3", mv), m.Predict("twin", mv)
		if math.Abs(a-b) > 0.02 {
			t.Errorf("%s: fitted user %v, folded-in twin %v", mv, a, b)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u3", "twin", "nobody"} {
		for _, mv := range []string{"A1", "R2", "unknown"} {
			if a, c := m.Predict(u, mv), got.Predict(u, mv); a != c {
				t.Errorf("%s %s: decoded %v, want %v", u, mv, c, a)
			}
		}
		q := Query{User: u, K: 5, ByRating: true}
		a, _ := m.Recommend(q)
		c, _ := got.Recommend(q)
		if !reflect.DeepEqual(a, c) {
			t.Errorf("%s: decoded model ranks %v, want %v", u, c, a)
		}
	}
	if _, err := m.marshal(2); err == nil {
		t.Error("a blended model encoded in format 2")
	}
}

// TestFormat2Read: a snapshot of the previous format (no rating blend) is
// still read, and answers as the model it was written from.
func TestFormat2Read(t *testing.T) {
	m := fitWorld(t)
	b, err := m.marshal(2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, mv := range []string{"A1", "R2"} {
		if a, c := m.Predict("u3", mv), got.Predict("u3", mv); a != c {
			t.Errorf("%s: format 2 decoded %v, want %v", mv, c, a)
		}
	}
	if b3, _ := got.MarshalBinary(); string(b3[:len(snapshotMagic)+2]) != snapshotMagic+"\x04\x00" {
		t.Error("re-encoded in another format than 4")
	}
}
