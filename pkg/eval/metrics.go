// Package eval measures recommenders: rating error (RMSE, MAE), top-N
// quality (Precision, Recall, NDCG, hit rate, catalog coverage) under the
// protocols of DESIGN.md, and prequential hit rate over a replayed stream.
package eval

import "math"

// Precision is the share of the first k ranked items that are relevant.
// It divides by k even when fewer than k items were ranked.
func Precision(ranked []string, relevant map[string]bool, k int) float64 {
	if k <= 0 {
		return 0
	}
	return float64(hits(ranked, relevant, k)) / float64(k)
}

// Recall is the share of relevant items found in the first k.
func Recall(ranked []string, relevant map[string]bool, k int) float64 {
	if len(relevant) == 0 {
		return 0
	}
	return float64(hits(ranked, relevant, k)) / float64(len(relevant))
}

// HitRate is 1 when any of the first k items is relevant, else 0.
func HitRate(ranked []string, relevant map[string]bool, k int) float64 {
	if hits(ranked, relevant, k) > 0 {
		return 1
	}
	return 0
}

// NDCG is the normalised discounted cumulative gain at k with binary
// relevance: sum over hits at rank r (1-based) of 1/log2(r+1), divided by
// the same sum for an ideal ranking of min(k, |relevant|) hits.
func NDCG(ranked []string, relevant map[string]bool, k int) float64 {
	var dcg, ideal float64
	for r := 0; r < k && r < len(ranked); r++ {
		if relevant[ranked[r]] {
			dcg += 1 / math.Log2(float64(r+2))
		}
	}
	for r := 0; r < k && r < len(relevant); r++ {
		ideal += 1 / math.Log2(float64(r+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

func hits(ranked []string, relevant map[string]bool, k int) int {
	n := 0
	for r := 0; r < k && r < len(ranked); r++ {
		if relevant[ranked[r]] {
			n++
		}
	}
	return n
}

// ErrorStats accumulates rating prediction errors.
type ErrorStats struct {
	n          int
	sq, absSum float64
}

// Add records one prediction against its true value.
func (e *ErrorStats) Add(predicted, actual float64) {
	d := predicted - actual
	e.n++
	e.sq += d * d
	e.absSum += math.Abs(d)
}

// RMSE is the root mean squared error; NaN with no predictions.
func (e *ErrorStats) RMSE() float64 {
	if e.n == 0 {
		return math.NaN()
	}
	return math.Sqrt(e.sq / float64(e.n))
}

// MAE is the mean absolute error; NaN with no predictions.
func (e *ErrorStats) MAE() float64 {
	if e.n == 0 {
		return math.NaN()
	}
	return e.absSum / float64(e.n)
}

// N is the number of predictions recorded.
func (e *ErrorStats) N() int { return e.n }

func nan64() float64 { return math.NaN() }
