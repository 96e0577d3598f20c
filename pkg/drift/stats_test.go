package drift

import (
	"errors"
	"math"
	"testing"
)

func near(t testing.TB, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.17g, want %.17g (tolerance %g)", name, got, want, tol)
	}
}

// Expected values below come from three sources, named per case: hand
// computation (shown in the comment), the examples printed in scipy's own
// documentation, and scipy 1.10.1 run on the same input (Debian's
// python3-scipy on the build machine).
type ksCase struct {
	name     string
	ref, cur []float64
	d, p     float64
}

func TestKSKnownValues(t *testing.T) {
	tests := []ksCase{
		// Hand: the samples do not overlap, so D = 1, and only the 2 of the
		// C(6,3) = 20 orderings that separate the samples reach D = 1:
		// p = 2/20 = 0.1 (scipy: 0.09999999999999999).
		{"disjoint", []float64{1, 2, 3}, []float64{4, 5, 6}, 1, 0.1},
		// Hand: identical samples, D = 0, p = 1.
		{"identical", []float64{1, 2, 2, 3}, []float64{1, 2, 2, 3}, 0, 1},
		// scipy 1.10.1 ks_2samp(ref, cur) ("auto" chose exact): ratings with
		// ties, D = 5/12, p = 0.10412735640901542.
		{"tied ratings",
			[]float64{4, 4, 3.5, 5, 3, 4, 2, 4.5, 3, 4, 5, 1, 3, 4, 3.5},
			[]float64{3, 3.5, 2, 4, 3, 2.5, 3, 1, 3, 4, 2, 3.5, 2.5, 3, 3, 2},
			5.0 / 12, 0.10412735640901542},
	}
	// scipy 1.10.1 ks_2samp(method="exact") on larger generated samples,
	// where the banded path count skips most of the lattice.
	var r1, c1, r2, c2 []float64
	for i := range 200 {
		r1 = append(r1, float64(i))
	}
	for i := range 150 {
		c1 = append(c1, float64(i)*1.1+15.5)
	}
	for i := range 700 {
		r2 = append(r2, float64(i%37))
	}
	for i := range 900 {
		c2 = append(c2, float64((i*7)%41))
	}
	tests = append(tests,
		ksCase{"200 x 150", r1, c1, 0.1, 0.33868681219914437},
		ksCase{"700 x 900 tied", r2, c2, 0.09777777777777778, 0.0009917717903512703})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KS(NumericOf(tt.ref), NumericOf(tt.cur))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "D", got.Statistic, tt.d, 1e-12)
			near(t, "p", got.PValue, tt.p, 1e-9)
			if got.Method != KSExact {
				t.Errorf("method = %s, want exact for small samples", got.Method)
			}
		})
	}
}

// TestKSExactAgainstEnumeration checks the lattice-path p-value against a
// brute force over every way of splitting n+m distinct points into samples
// of sizes n and m: the p-value is the share of splits whose D is at least
// the observed one.
func TestKSExactAgainstEnumeration(t *testing.T) {
	for _, size := range [][2]int{{5, 4}, {6, 6}, {3, 7}, {8, 5}} {
		n, m := size[0], size[1]
		total := n + m
		var ds []float64
		for mask := 0; mask < 1<<total; mask++ {
			if popcount(mask) != n {
				continue
			}
			var ref, cur []float64
			for i := 0; i < total; i++ {
				if mask&(1<<i) != 0 {
					ref = append(ref, float64(i))
				} else {
					cur = append(cur, float64(i))
				}
			}
			r, err := KS(NumericOf(ref), NumericOf(cur))
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, r.Statistic)
		}
		// Check the p-value of every attainable D.
		seen := map[float64]bool{}
		for _, d := range ds {
			if seen[d] {
				continue
			}
			seen[d] = true
			var atLeast int
			for _, e := range ds {
				if e >= d-1e-12 {
					atLeast++
				}
			}
			want := float64(atLeast) / float64(len(ds))
			dnm := int64(math.Round(d * float64(n*m)))
			near(t, "exact p", ksExactPValue(int64(n), int64(m), dnm), want, 1e-12)
		}
	}
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestKolmogorovQ(t *testing.T) {
	// scipy 1.10.1 stats.kstwobign.sf at the same points; 1.3581 is the
	// classic 5% critical value of Smirnov's (1948) table.
	near(t, "Q(1.3581)", KolmogorovQ(1.3581), 0.0499996304316674, 1e-12)
	near(t, "Q(1.0)", KolmogorovQ(1.0), 0.26999967167735456, 1e-12)
	near(t, "Q(0.5)", KolmogorovQ(0.5), 0.9639452436648751, 1e-12)
	near(t, "Q(0)", KolmogorovQ(0), 1, 0)
}

func TestKSAsymptoticForLongSamples(t *testing.T) {
	// 20,000 x 10,000 > MaxExactKSCells: the asymptotic path. Reference
	// uniform on 0..99, current shifted by 10: D = 0.1 by hand, and
	// en = 2e8/3e4, so lambda^2 = en * 0.01 = 200/3 and p = Q(lambda) is its
	// series' leading term 2*exp(-400/3) (the next is exp(-533) smaller).
	ref := Numeric{}
	cur := Numeric{}
	for v := 0; v < 110; v++ {
		if v < 100 {
			ref.Values = append(ref.Values, float64(v))
			ref.Counts = append(ref.Counts, 200)
		}
		if v >= 10 {
			cur.Values = append(cur.Values, float64(v))
			cur.Counts = append(cur.Counts, 100)
		}
	}
	r, err := KS(ref, cur)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != KSAsymptotic {
		t.Fatalf("method = %s, want asymptotic", r.Method)
	}
	near(t, "D", r.Statistic, 0.1, 1e-12)
	want := 2 * math.Exp(-400.0/3)
	if math.Abs(r.PValue-want) > 1e-9*want {
		t.Errorf("p = %g, want %g", r.PValue, want)
	}
}

func TestChiSquareHomogeneity(t *testing.T) {
	// Hand: margins 30, 40, 50 of 120; expected counts 15/20/25 in both
	// rows; statistic 2*(25/15 + 0 + 25/25) = 16/3; with 2 degrees of
	// freedom the chi-square survival is exp(-x/2) exactly.
	r, err := ChiSquareHomogeneity([]float64{10, 20, 30}, []float64{20, 20, 20})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "statistic", r.Statistic, 16.0/3, 1e-12)
	near(t, "p", r.PValue, math.Exp(-8.0/3), 1e-12)
	if r.DoF != 2 {
		t.Errorf("dof = %d, want 2", r.DoF)
	}
	// scipy's chi2_contingency documentation example:
	// [[10, 10, 20], [20, 20, 20]] -> 2.7777777777777777, p 0.24935220877729619.
	r, err = ChiSquareHomogeneity([]float64{10, 10, 20}, []float64{20, 20, 20})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "statistic", r.Statistic, 2.7777777777777777, 1e-12)
	near(t, "p", r.PValue, 0.24935220877729619, 1e-12)
	// A category empty in both rows is dropped: the same table with an
	// empty column gives the same answer.
	r2, err := ChiSquareHomogeneity([]float64{10, 0, 10, 20}, []float64{20, 0, 20, 20})
	if err != nil {
		t.Fatal(err)
	}
	if r2 != r {
		t.Errorf("with empty column = %+v, want %+v", r2, r)
	}
}

func TestWassersteinKnownValues(t *testing.T) {
	// scipy.stats.wasserstein_distance documentation examples.
	w, err := Wasserstein1(NumericOf([]float64{0, 1, 3}), NumericOf([]float64{5, 6, 8}))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "W([0,1,3],[5,6,8])", w, 5, 1e-12)
	// wasserstein_distance([0, 1], [0, 1], [3, 1], [2, 2]) = 0.25.
	w, _ = Wasserstein1(Numeric{Values: []float64{0, 1}, Counts: []int64{3, 1}},
		Numeric{Values: []float64{0, 1}, Counts: []int64{2, 2}})
	near(t, "weighted W", w, 0.25, 1e-12)
	// wasserstein_distance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4],
	// [1.4, 0.9, 3.1, 7.2], [3.2, 3.5]) = 4.0781331438047861; the weights
	// are scaled by 10 to integer counts (the distance is scale-free).
	w, _ = Wasserstein1(Numeric{Values: []float64{3.4, 3.9, 7.5, 7.8}, Counts: []int64{14, 9, 31, 72}},
		Numeric{Values: []float64{1.4, 4.5}, Counts: []int64{35, 32}})
	near(t, "weighted W", w, 4.0781331438047861, 1e-12)
}

func TestNormalisedWasserstein(t *testing.T) {
	// Hand: reference {1, 3} has mean 2 and population sd 1; the current
	// sample {2, 4} is the reference moved by 1, so W = 1 and W/sd = 1.
	w, err := NormalisedWasserstein(NumericOf([]float64{1, 3}), NumericOf([]float64{2, 4}))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "normalised W", w, 1, 1e-12)
	// A constant reference is normalised by the 0.001 floor: W = 0.5.
	w, _ = NormalisedWasserstein(NumericOf([]float64{3, 3}), NumericOf([]float64{3.5}))
	near(t, "constant reference", w, 500, 1e-9)
}

func TestJensenShannonKnownValues(t *testing.T) {
	// scipy.spatial.distance.jensenshannon documentation examples (natural
	// logarithm, scipy's default base).
	d, err := JensenShannon([]float64{1, 0}, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "JS([1,0],[.5,.5])", d, 0.46450140402245893, 1e-12)
	// Disjoint supports reach the maximum sqrt(ln 2); in base 2 scipy's
	// example gives 1.0 for the same input.
	d, _ = JensenShannon([]float64{1, 0, 0}, []float64{0, 1, 0})
	near(t, "JS disjoint", d, math.Sqrt(math.Ln2), 1e-12)
	// Counts are normalised, so scale does not matter.
	d, _ = JensenShannon([]float64{10, 30}, []float64{1, 3})
	near(t, "JS same shares", d, 0, 1e-12)
}

func TestStatisticsRejectBadInput(t *testing.T) {
	if _, err := KS(Numeric{}, NumericOf([]float64{1})); !errors.Is(err, ErrEmpty) {
		t.Errorf("KS on empty reference: err = %v, want ErrEmpty", err)
	}
	if _, err := KS(Numeric{Values: []float64{2, 1}, Counts: []int64{1, 1}}, NumericOf([]float64{1})); err == nil {
		t.Error("KS on unsorted values: no error")
	}
	if _, err := Wasserstein1(NumericOf([]float64{1}), Numeric{Values: []float64{1}, Counts: []int64{1, 2}}); err == nil {
		t.Error("Wasserstein on mismatched lengths: no error")
	}
	if _, err := ChiSquareHomogeneity([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("chi-square on mismatched lengths: no error")
	}
	if _, err := ChiSquareHomogeneity([]float64{1, -2}, []float64{1, 1}); err == nil {
		t.Error("chi-square on a negative count: no error")
	}
	if _, err := JensenShannon([]float64{0, 0}, []float64{1, 1}); !errors.Is(err, ErrEmpty) {
		t.Errorf("JS on empty reference: err = %v, want ErrEmpty", err)
	}
}
