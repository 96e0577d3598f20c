package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pruneModel fits family f on a catalog large enough for the pruning to
// skip blocks (1,500 movies, most rated by few users).
func pruneModel(t testing.TB, f Family) *Model {
	t.Helper()
	cfg := familyConfig(f)
	cfg.Factors, cfg.Alpha = 8, 0.8
	if f == FamilyEnsemble {
		cfg.SVDFactors = 6
	}
	m, err := Fit(kernelWorld(300, 1500, 11), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pruneFamilies are the families whose requests take the pruned path.
var pruneFamilies = []Family{FamilyPureSVD, FamilyIALS, FamilyEnsemble}

// checkBounds fails unless every movie's factors lie within its block's
// bounds and its norm under the block's, and the Gram matrix and sums are
// those of the factors of the movies past the head blocks.
func checkBounds(t *testing.T, m *Model) {
	t.Helper()
	m = m.current()
	kn := m.kernelFor()
	k := m.k
	for i := range len(m.v) / k {
		p := int(kn.pos[i])
		blk, j := kn.blocks[p/kernelBlock], p%kernelBlock
		if blk.perm[j] != int32(i) {
			t.Fatalf("movie %d at position %d, which holds %d", i, p, blk.perm[j])
		}
		b := p / kernelBlock
		x := m.v[i*k : i*k+k]
		for f, v := range x {
			if lo, hi := float64(blk.lo[f]), float64(blk.hi[f]); blk.mid[f] != (hi+lo)/2 || blk.half[f] != (hi-lo)/2 {
				t.Fatalf("block %d factor %d: mid %v half %v for [%v, %v]", b, f, blk.mid[f], blk.half[f], lo, hi)
			}
			if v < blk.lo[f] || v > blk.hi[f] {
				t.Fatalf("movie %d factor %d = %v outside its block's [%v, %v]", i, f, v, blk.lo[f], blk.hi[f])
			}
			if got := blk.f[f*kernelBlock+j]; got != v {
				t.Fatalf("movie %d factor %d is %v in the blocks, %v in the model", i, f, got, v)
			}
		}
		if n := norm64(x); n > float64(blk.norm) {
			t.Fatalf("movie %d has norm %v above its block's %v", i, n, blk.norm)
		}
	}
	sum, gram := make([]float64, k), make([]float64, k*k)
	for _, blk := range kn.blocks[kn.head:] {
		for _, i := range blk.perm {
			if i < 0 {
				continue
			}
			x := m.v[int(i)*k : int(i)*k+k]
			for a := range k {
				sum[a] += float64(x[a])
				for b := range k {
					gram[a*k+b] += float64(x[a]) * float64(x[b])
				}
			}
		}
	}
	for a := range k {
		if math.Abs(sum[a]-kn.sum[a]) > 1e-6*(1+math.Abs(sum[a])) {
			t.Fatalf("sum[%d] = %v, the factors' %v", a, kn.sum[a], sum[a])
		}
		for b := range k {
			if math.Abs(gram[a*k+b]-kn.gram[a*k+b]) > 1e-6*(1+math.Abs(gram[a*k+b])) {
				t.Fatalf("gram[%d,%d] = %v, the factors' %v", a, b, kn.gram[a*k+b], gram[a*k+b])
			}
		}
	}
}

// compareAll checks every user's answers against the plain path over
// varied queries (k from 1 to more than the catalog, offsets, exclusions,
// genres) and returns the blocks the pruning skipped for top-10 queries.
func compareAll(t *testing.T, m *Model, seed uint64) int {
	t.Helper()
	compareKernel(t, m, 300, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	skipped := 0
	for u := range 300 {
		id := fmt.Sprintf("u%d", u)
		for _, q := range []Query{
			{User: id, K: 10},
			{User: id, K: 1 + rng.IntN(5), Offset: rng.IntN(20)},
			{User: id, K: MaxK},            // more than the catalog: nothing to skip
			{User: id, K: 3, Offset: 2000}, // past the end
			{User: id, K: 5, Genres: []string{"Western"}, Exclude: []string{"m0", "m5", "m10"}},
		} {
			got, err := m.Recommend(q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.recommendPlain(q)
			if err != nil {
				t.Fatal(err)
			}
			sameAnswer(t, q, got, want)
		}
		if ps, ok := m.pruneStatsOf(id, 10); ok {
			skipped += ps.skipped
		}
	}
	return skipped
}

func sameAnswer(t *testing.T, q Query, got, want Result) {
	t.Helper()
	if len(got.Items) != len(want.Items) {
		t.Fatalf("%+v: %d items, plain path %d", q, len(got.Items), len(want.Items))
	}
	if err := sameItems(got.Items, want.Items); err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
}

// The pruned path skips blocks and still gives the plain path's answers,
// before and after deltas, including a delta that moves a movie far
// outside its block's bounds (the bounds widen) and new movies.
func TestPruningMatchesPlainPath(t *testing.T) {
	for _, f := range pruneFamilies {
		t.Run(string(f), func(t *testing.T) {
			m := pruneModel(t, f)
			checkBounds(t, m)
			if skipped := compareAll(t, m, 1); skipped == 0 {
				t.Error("no block was skipped: the test does not exercise the pruning")
			}
			// Move the last movie in layout order (the smallest factors) far
			// out: ten times the largest factor of any movie, in the user's
			// direction, so it must enter every top 10 that keeps it.
			kn := m.kernelFor()
			var last int32 = -1
			for _, blk := range kn.blocks {
				for _, i := range blk.perm {
					if i >= 0 {
						last = i
					}
				}
			}
			id := m.items.ID(last)
			md := m.FoldMovie(MovieInfo{ID: id, Title: "far away (2001)", Genres: []string{"Drama"}}, []Rater{{"u1", 5}, {"u2", 5}})
			var big float32
			for _, v := range m.v {
				big = max(big, float32(math.Abs(float64(v))))
			}
			st := m.user("u1")
			for f := range md.Factors {
				md.Factors[f] = 10 * big * float32(math.Copysign(1, float64(st.vec[f])))
			}
			var added []MovieDelta
			for j := range 70 { // a new block of new movies
				added = append(added, m.FoldMovie(MovieInfo{ID: fmt.Sprintf("added%d", j), Title: "star road", Genres: []string{"Western"}},
					[]Rater{{fmt.Sprintf("u%d", j), 4.5}}))
			}
			if err := m.Apply(Delta{BaseVersion: m.Version, Movies: append(added, md),
				Users: []UserDelta{m.FoldUser("u3", []Rated{{Movie: "m4", Value: 5}, {Movie: "m8", Value: 1}})}}); err != nil {
				t.Fatal(err)
			}
			checkBounds(t, m)
			compareAll(t, m, 2)
			res, err := m.Recommend(Query{User: "u1", K: 10})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, it := range res.Items {
				found = found || it.MovieID == id
			}
			if !found && !slices.Contains(m.user("u1").items, last) {
				t.Errorf("the moved movie %s is not in u1's top 10: %+v", id, res.Items)
			}
		})
	}
}

// Adversarial factors: every movie the same (all collaborative scores
// equal: the ties break by index as on the plain path), every factor
// negated (negative scores), and all factors zero.
func TestPruningAdversarialFactors(t *testing.T) {
	for _, f := range pruneFamilies {
		for _, c := range []struct {
			name  string
			apply func(m *Model)
		}{
			{"all-equal", func(m *Model) {
				for i := range m.v {
					m.v[i] = m.v[i%m.k]
				}
			}},
			{"negated", func(m *Model) {
				for i := range m.v {
					m.v[i] = -m.v[i]
				}
			}},
			{"zero", func(m *Model) { clear(m.v) }},
		} {
			t.Run(string(f)+"/"+c.name, func(t *testing.T) {
				m := pruneModel(t, f)
				c.apply(m)
				m.kern.Store(m.buildKernel()) // the factors changed in place
				checkBounds(t, m)
				compareAll(t, m, 3)
			})
		}
	}
}
