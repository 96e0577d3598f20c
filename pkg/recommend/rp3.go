package recommend

import (
	"math"
	"slices"
)

// RP3beta (Paudel, Christoffel, Newell, Bernstein 2017) is an item-item
// random walk item -> user -> item: with p(u|i) = x_ui / d_i and
// p(j|u) = x_uj / s_u over the weighted input x (d_i and s_u the row and
// column sums), W_ij = sum_u p(u|i)^alpha p(j|u)^alpha / d_j^beta, each
// row kept to its k largest entries and the diagonal zero. A user's scores
// are x_u W, exactly EASE's x_u B, so it lives in EASE's state (easeModel)
// and serves, folds in and snapshots as EASE does.

// rp3Settings returns cfg's RP3beta settings, zero fields at their
// defaults: alpha 1, neighbours 100 (beta 0 is no popularity penalty).
func (c Config) rp3Settings() (alpha, beta float64, k int) {
	alpha, beta, k = c.RP3Alpha, c.RP3Beta, c.RP3Neighbors
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		alpha = 1
	}
	if !(beta >= 0) || math.IsInf(beta, 0) {
		beta = 0
	}
	if k <= 0 {
		k = 100
	}
	return alpha, beta, k
}

// rp3Walk is the part of RP3beta that beta and the neighbourhood size do
// not change: the symmetric walk weights G_ij = sum_u s_u^-alpha
// x_ui^alpha x_uj^alpha over the modelled movies, and the movies' degrees.
type rp3Walk struct {
	ids, pos []int32
	g        []float64 // n x n
	deg      []float64 // per modelled row: d_i
	alpha    float64
}

// rp3WalkOf computes the walk weights of the weighted input sig over at
// most maxItems movies (the most-rated, as EASE's). Degrees are over all of
// sig, so the modelled movies' W is the submatrix of the whole catalog's.
func rp3WalkOf(sig *csr, alpha float64, maxItems int) *rp3Walk {
	ids := easeItems(sig, maxItems)
	scaled := &csr{rows: sig.rows, cols: sig.cols, ptr: sig.ptr, idx: sig.idx, val: make([]float32, len(sig.val))}
	colSum := make([]float64, sig.cols)
	for u := 0; u < sig.rows; u++ {
		idx, val := sig.row(u)
		var s float64
		for p, i := range idx {
			s += float64(val[p])
			colSum[i] += float64(val[p])
		}
		if s <= 0 {
			continue
		}
		// G_ij = sum_u (s_u^-alpha/2 x_ui^alpha)(s_u^-alpha/2 x_uj^alpha):
		// EASE's Gram matrix of the rescaled input.
		c := math.Pow(s, -alpha/2)
		for p := range idx {
			scaled.val[int(sig.ptr[u])+p] = float32(c * math.Pow(float64(val[p]), alpha))
		}
	}
	g, pos := easeGram(scaled, ids)
	deg := make([]float64, len(ids))
	for r, i := range ids {
		deg[r] = colSum[i]
	}
	return &rp3Walk{ids: ids, pos: pos, g: g, deg: deg, alpha: alpha}
}

// model returns RP3beta's W for beta and k neighbours per row.
func (w *rp3Walk) model(beta float64, k int) *easeModel {
	n := len(w.ids)
	e := &easeModel{n: n, ids: w.ids, pos: w.pos, b: make([]float32, n*n)}
	scale := make([]float64, n) // d_j^-beta
	for j, d := range w.deg {
		if d > 0 {
			scale[j] = math.Pow(d, -beta)
		}
	}
	row := make([]float64, n)
	order := make([]int32, 0, n)
	for i := 0; i < n; i++ {
		if w.deg[i] <= 0 {
			continue
		}
		ri := math.Pow(w.deg[i], -w.alpha)
		order = order[:0]
		gi := w.g[i*n : i*n+n]
		for j := range n {
			row[j] = ri * gi[j] * scale[j]
			if j != i && row[j] > 0 {
				order = append(order, int32(j))
			}
		}
		if len(order) > k {
			// The k largest, ties to the lower index: deterministic.
			slices.SortFunc(order, func(a, b int32) int {
				switch {
				case row[a] > row[b]:
					return -1
				case row[a] < row[b]:
					return 1
				}
				return int(a - b)
			})
			order = order[:k]
		}
		bi := e.b[i*n : i*n+n]
		for _, j := range order {
			bi[j] = float32(row[j])
		}
	}
	return e
}

// fitRP3 fits RP3beta with cfg's settings on at most maxItems movies of
// the weighted input sig.
func fitRP3(sig *csr, cfg Config, maxItems int) *easeModel {
	alpha, beta, k := cfg.rp3Settings()
	return rp3WalkOf(sig, alpha, maxItems).model(beta, k)
}
