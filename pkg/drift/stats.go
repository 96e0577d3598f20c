// Package drift holds the pure part of drift detection: the statistics
// (two-sample Kolmogorov-Smirnov, chi-square homogeneity, normalised
// Wasserstein-1, Jensen-Shannon distance), the features of the rating and
// swipe stream, the reference and current windows, and the report. It does no
// I/O, reads no clock and keeps no globals: callers pass events in and get
// reports out.
package drift

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// ErrEmpty is wrapped when a statistic is asked for on a sample without
// observations.
var ErrEmpty = errors.New("empty sample")

// Numeric is a distribution of numeric observations held as value counts:
// Values is strictly increasing and Counts[i] observations equal Values[i].
// Value counts keep rating (half steps) and activity (integers) samples exact
// and small, so a report can carry them and be pinned as a reference later.
type Numeric struct {
	Values []float64 `json:"values"`
	Counts []int64   `json:"counts"`
}

// NumericOf builds the value counts of the observations xs.
func NumericOf(xs []float64) Numeric {
	m := make(map[float64]int64, 16)
	for _, x := range xs {
		m[x]++
	}
	return numericFromMap(m)
}

func numericFromMap(m map[float64]int64) Numeric {
	vals := make([]float64, 0, len(m))
	for v := range m {
		vals = append(vals, v)
	}
	sort.Float64s(vals)
	n := Numeric{Values: vals, Counts: make([]int64, len(vals))}
	for i, v := range vals {
		n.Counts[i] = m[v]
	}
	return n
}

// N is the number of observations.
func (d Numeric) N() int64 {
	var n int64
	for _, c := range d.Counts {
		n += c
	}
	return n
}

// Mean and StdDev are the population moments (ddof 0, as numpy.std, which
// Evidently uses to normalise the Wasserstein distance).
func (d Numeric) Mean() float64 {
	n := d.N()
	if n == 0 {
		return math.NaN()
	}
	var s float64
	for i, v := range d.Values {
		s += v * float64(d.Counts[i])
	}
	return s / float64(n)
}

// StdDev is the population standard deviation (ddof 0).
func (d Numeric) StdDev() float64 {
	n := d.N()
	if n == 0 {
		return math.NaN()
	}
	mu := d.Mean()
	var s float64
	for i, v := range d.Values {
		s += (v - mu) * (v - mu) * float64(d.Counts[i])
	}
	return math.Sqrt(s / float64(n))
}

func (d Numeric) check(name string) error {
	if len(d.Values) != len(d.Counts) {
		return fmt.Errorf("%s: %d values but %d counts", name, len(d.Values), len(d.Counts))
	}
	for i, c := range d.Counts {
		if c < 0 {
			return fmt.Errorf("%s: negative count %d at value %v", name, c, d.Values[i])
		}
		if math.IsNaN(d.Values[i]) || math.IsInf(d.Values[i], 0) {
			return fmt.Errorf("%s: value %v is not finite", name, d.Values[i])
		}
		if i > 0 && d.Values[i] <= d.Values[i-1] {
			return fmt.Errorf("%s: values not strictly increasing at index %d", name, i)
		}
	}
	if d.N() == 0 {
		return fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	return nil
}

// KSMethod says how a Kolmogorov-Smirnov p-value was computed.
type KSMethod string

// The two ways of computing the two-sided p-value.
const (
	// KSExact counts the lattice paths that stay within the statistic, as
	// scipy.stats.ks_2samp(method="exact") does. The count assumes no ties,
	// so with tied data (ratings) the p-value is conservative, exactly as
	// scipy's.
	KSExact KSMethod = "exact"
	// KSAsymptotic uses the limiting Kolmogorov distribution
	// Q(sqrt(n*m/(n+m)) * D) (scipy's kstwobign; scipy 1.10 "asymp" uses the
	// one-sample finite-n distribution instead, a small difference at the
	// sizes where it applies).
	KSAsymptotic KSMethod = "asymptotic"
)

// MaxExactKSCells bounds n*m for the exact p-value, whose cost is O(n*m).
// scipy's "auto" switches at max(n, m) > 10,000; we switch on the product,
// which bounds the work the same way for balanced samples (10^8 cells is
// well under a second) and avoids the quadratic cost for long windows.
const MaxExactKSCells = 100_000_000

// KSResult is the outcome of a two-sample Kolmogorov-Smirnov test.
type KSResult struct {
	// Statistic is D = sup |F_ref(x) - F_cur(x)|.
	Statistic float64
	// PValue is the two-sided p-value.
	PValue float64
	Method KSMethod
}

// KS runs the two-sample, two-sided Kolmogorov-Smirnov test on ref and cur.
// The p-value is exact when n*m <= MaxExactKSCells and asymptotic otherwise
// (scipy's ks_2samp "auto" makes the same choice on max(n, m)).
func KS(ref, cur Numeric) (KSResult, error) {
	if err := ref.check("reference"); err != nil {
		return KSResult{}, fmt.Errorf("ks: %w", err)
	}
	if err := cur.check("current"); err != nil {
		return KSResult{}, fmt.Errorf("ks: %w", err)
	}
	n, m := ref.N(), cur.N()
	// D*n*m as an integer: F_ref = a/n and F_cur = b/m, so |a*m - b*n| is
	// exact and the path count below compares integers, not floats.
	var a, b, dnm int64
	i, j := 0, 0
	for i < len(ref.Values) || j < len(cur.Values) {
		switch {
		case j >= len(cur.Values) || (i < len(ref.Values) && ref.Values[i] < cur.Values[j]):
			a += ref.Counts[i]
			i++
		case i >= len(ref.Values) || cur.Values[j] < ref.Values[i]:
			b += cur.Counts[j]
			j++
		default: // equal values: step both ECDFs at once
			a += ref.Counts[i]
			b += cur.Counts[j]
			i++
			j++
		}
		if d := abs64(a*m - b*n); d > dnm {
			dnm = d
		}
	}
	res := KSResult{Statistic: float64(dnm) / float64(n*m)}
	if float64(n)*float64(m) <= MaxExactKSCells {
		res.Method = KSExact
		res.PValue = ksExactPValue(n, m, dnm)
	} else {
		res.Method = KSAsymptotic
		en := float64(n) * float64(m) / float64(n+m)
		res.PValue = KolmogorovQ(math.Sqrt(en) * res.Statistic)
	}
	return res, nil
}

// ksExactPValue is P(D >= dnm/(n*m)) for two samples of sizes n and m
// without ties: 1 - (share of the C(n+m, n) monotone lattice paths from
// (0,0) to (n,m) on which every point (i,j) has |i*m - j*n| < dnm). The
// share of paths reaching (i,j) inside the band obeys
// s(i,j) = s(i-1,j)*i/(i+j) + s(i,j-1)*j/(i+j), which stays in [0,1] and so
// never overflows, unlike the raw path count. Only the cells inside the band
// are visited: row i spans (i*m - dnm)/n < j < (i*m + dnm)/n, so the work is
// about n * 2*D*m cells instead of n*m.
func ksExactPValue(n, m, dnm int64) float64 {
	if dnm == 0 {
		return 1
	}
	row := make([]float64, m+1)
	// band returns the columns of row i inside the band, clipped to 0..m.
	band := func(i int64) (lo, hi int64) {
		// smallest j with i*m - j*n < dnm, largest j with j*n - i*m < dnm
		lo = floorDiv(i*m-dnm, n) + 1
		hi = ceilDiv(i*m+dnm, n) - 1
		return max(lo, 0), min(hi, m)
	}
	lo, hi := band(0)
	row[0] = 1
	for j := int64(1); j <= hi; j++ {
		row[j] = 1
	}
	for i := int64(1); i <= n; i++ {
		nlo, nhi := band(i)
		// Cells that left the band on the low side hold row i-1 values;
		// they are zero in row i. The high side only grows.
		for j := lo; j < nlo && j <= m; j++ {
			row[j] = 0
		}
		lo, hi = nlo, nhi
		fi := float64(i)
		for j := lo; j <= hi; j++ {
			if j == 0 {
				continue // s(i,0) = s(i-1,0): only the up move reaches it
			}
			row[j] = (row[j]*fi + row[j-1]*float64(j)) / float64(i+j)
		}
	}
	if hi < m {
		return 1
	}
	return clamp01(1 - row[m])
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// KolmogorovQ is the survival function of the Kolmogorov distribution,
// Q(x) = 2 * sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2), the limit of
// P(sqrt(en) * D > x).
func KolmogorovQ(x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x < 0.2 {
		// The alternating series converges slowly here and Q is 1 to
		// double precision (1 - Q(0.2) is about 5e-13 by the theta-function form).
		return 1
	}
	var sum float64
	for k := 1; k <= 100; k++ {
		term := math.Exp(-2 * float64(k*k) * x * x)
		if k%2 == 1 {
			sum += term
		} else {
			sum -= term
		}
		if term < 1e-17 {
			break
		}
	}
	return clamp01(2 * sum)
}

// ChiSquareResult is the outcome of a chi-square test.
type ChiSquareResult struct {
	Statistic float64
	PValue    float64
	// DoF is the degrees of freedom: the number of categories seen in
	// either sample, minus one.
	DoF int
}

// ChiSquareHomogeneity tests whether two vectors of category counts come
// from one distribution: the Pearson statistic of the 2 x k contingency
// table against the expected counts from its margins, with k-1 degrees of
// freedom (scipy.stats.chi2_contingency without Yates' correction).
// Categories empty in both samples are dropped.
//
// Evidently's "chisquare" is a goodness-of-fit test of the current counts
// against the reference shares (scipy.stats.chisquare), which treats the
// reference as exact; the homogeneity test also counts the reference's own
// sampling noise, so it keeps its false-alarm rate at the nominal level when
// both windows are of similar size.
func ChiSquareHomogeneity(ref, cur []float64) (ChiSquareResult, error) {
	if len(ref) != len(cur) {
		return ChiSquareResult{}, fmt.Errorf("chi-square: %d reference categories but %d current", len(ref), len(cur))
	}
	var nr, nc float64
	for i := range ref {
		if ref[i] < 0 || cur[i] < 0 || math.IsNaN(ref[i]) || math.IsNaN(cur[i]) {
			return ChiSquareResult{}, fmt.Errorf("chi-square: category %d: counts must be >= 0, got %v and %v", i, ref[i], cur[i])
		}
		nr += ref[i]
		nc += cur[i]
	}
	if nr == 0 {
		return ChiSquareResult{}, fmt.Errorf("chi-square: reference: %w", ErrEmpty)
	}
	if nc == 0 {
		return ChiSquareResult{}, fmt.Errorf("chi-square: current: %w", ErrEmpty)
	}
	total := nr + nc
	var stat float64
	k := 0
	for i := range ref {
		col := ref[i] + cur[i]
		if col == 0 {
			continue
		}
		k++
		er := nr * col / total
		ec := nc * col / total
		stat += (ref[i]-er)*(ref[i]-er)/er + (cur[i]-ec)*(cur[i]-ec)/ec
	}
	res := ChiSquareResult{Statistic: stat, DoF: k - 1}
	if res.DoF < 1 {
		// One category only: both samples are identical in distribution.
		res.PValue = 1
		return res, nil
	}
	res.PValue = distuv.ChiSquared{K: float64(res.DoF)}.Survival(stat)
	return res, nil
}

// Wasserstein1 is the first Wasserstein (earth mover's) distance between the
// two distributions: the integral of |F_ref(x) - F_cur(x)| over x, as
// scipy.stats.wasserstein_distance.
func Wasserstein1(ref, cur Numeric) (float64, error) {
	if err := ref.check("reference"); err != nil {
		return 0, fmt.Errorf("wasserstein: %w", err)
	}
	if err := cur.check("current"); err != nil {
		return 0, fmt.Errorf("wasserstein: %w", err)
	}
	n, m := float64(ref.N()), float64(cur.N())
	var a, b, dist, prev float64
	i, j := 0, 0
	first := true
	for i < len(ref.Values) || j < len(cur.Values) {
		var x float64
		switch {
		case j >= len(cur.Values) || (i < len(ref.Values) && ref.Values[i] < cur.Values[j]):
			x = ref.Values[i]
		default:
			x = cur.Values[j]
		}
		if !first {
			dist += math.Abs(a/n-b/m) * (x - prev)
		}
		first = false
		if i < len(ref.Values) && ref.Values[i] == x {
			a += float64(ref.Counts[i])
			i++
		}
		if j < len(cur.Values) && cur.Values[j] == x {
			b += float64(cur.Counts[j])
			j++
		}
		prev = x
	}
	return dist, nil
}

// MinNormStdDev is the floor on the reference standard deviation when
// normalising the Wasserstein distance, as Evidently's 0.001, so a constant
// reference does not divide by zero.
const MinNormStdDev = 0.001

// NormalisedWasserstein is Wasserstein1(ref, cur) divided by the reference's
// population standard deviation (at least MinNormStdDev): Evidently's
// "wasserstein" stattest, whose default threshold is 0.1.
func NormalisedWasserstein(ref, cur Numeric) (float64, error) {
	w, err := Wasserstein1(ref, cur)
	if err != nil {
		return 0, err
	}
	return w / math.Max(ref.StdDev(), MinNormStdDev), nil
}

// JensenShannon is the Jensen-Shannon distance between the category counts
// p and q (each normalised to sum to one): the square root of
// (KL(p||m) + KL(q||m))/2 with m = (p+q)/2, in natural logarithms, as
// scipy.spatial.distance.jensenshannon with its default base, which is what
// Evidently's "jensenshannon" stattest calls. It lies in [0, sqrt(ln 2)]
// (about 0.833); in base 2 it would lie in [0, 1].
func JensenShannon(p, q []float64) (float64, error) {
	if len(p) != len(q) {
		return 0, fmt.Errorf("jensen-shannon: %d reference categories but %d current", len(p), len(q))
	}
	var sp, sq float64
	for i := range p {
		if p[i] < 0 || q[i] < 0 || math.IsNaN(p[i]) || math.IsNaN(q[i]) {
			return 0, fmt.Errorf("jensen-shannon: category %d: weights must be >= 0, got %v and %v", i, p[i], q[i])
		}
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 {
		return 0, fmt.Errorf("jensen-shannon: reference: %w", ErrEmpty)
	}
	if sq == 0 {
		return 0, fmt.Errorf("jensen-shannon: current: %w", ErrEmpty)
	}
	var js float64
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		mid := (a + b) / 2
		if a > 0 {
			js += a * math.Log(a/mid)
		}
		if b > 0 {
			js += b * math.Log(b/mid)
		}
	}
	return math.Sqrt(math.Max(js/2, 0)), nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func clamp01(x float64) float64 {
	return math.Min(1, math.Max(0, x))
}
