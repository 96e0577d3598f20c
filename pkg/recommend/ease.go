package recommend

import (
	"sort"

	"gonum.org/v1/gonum/mat"
)

// easeModel is EASE (Steck 2019): B = I - P diag(1/diag(P)) with
// P = (X^T X + lambda I)^-1 over the binary user x item matrix X restricted to
// the modelled movies, and a user's scores x_u B. The diagonal of B is zero,
// so a movie never recommends itself.
type easeModel struct {
	n    int
	ids  []int32   // row -> item index
	pos  []int32   // item index -> row, -1 when not modelled (len: items at fit)
	b    []float32 // n x n, row-major: b[i*n+j] is B_ij
	lmbd float64
}

// easeItems picks the modelled movies: the most-rated ones (ties by index),
// at most maxItems, in index order.
func easeItems(sig *csr, maxItems int) []int32 {
	counts := make([]int, sig.cols)
	for _, c := range sig.idx {
		counts[c]++
	}
	var ids []int32
	for i, n := range counts {
		if n > 0 {
			ids = append(ids, int32(i))
		}
	}
	if len(ids) > maxItems {
		sort.SliceStable(ids, func(a, b int) bool { return counts[ids[a]] > counts[ids[b]] })
		ids = ids[:maxItems]
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	}
	return ids
}

// easeGram returns X^T X over the modelled movies (row-major n x n) and the
// item -> row map.
func easeGram(sig *csr, ids []int32) ([]float64, []int32) {
	n := len(ids)
	pos := make([]int32, sig.cols)
	for i := range pos {
		pos[i] = -1
	}
	for r, i := range ids {
		pos[i] = int32(r)
	}
	g := make([]float64, n*n)
	rows := make([]int32, 0, 256)
	ws := make([]float64, 0, 256)
	for u := 0; u < sig.rows; u++ {
		idx, val := sig.row(u)
		rows, ws = rows[:0], ws[:0]
		for p, i := range idx {
			if r := pos[i]; r >= 0 {
				rows = append(rows, r)
				ws = append(ws, float64(val[p]))
			}
		}
		for x, a := range rows {
			ga := g[int(a)*n : int(a)*n+n]
			wa := ws[x]
			for y, b := range rows {
				ga[b] += wa * ws[y]
			}
		}
	}
	return g, pos
}

// fitEASE fits EASE with regularisation lambda on at most maxItems movies
// of the weighted input sig.
func fitEASE(sig *csr, lambda float64, maxItems int) *easeModel {
	ids := easeItems(sig, maxItems)
	g, pos := easeGram(sig, ids)
	return easeFromGram(g, ids, pos, lambda)
}

// easeFromGram solves EASE for one lambda from a precomputed Gram matrix
// (which it does not modify).
func easeFromGram(g []float64, ids, pos []int32, lambda float64) *easeModel {
	n := len(ids)
	e := &easeModel{n: n, ids: ids, pos: pos, lmbd: lambda, b: make([]float32, n*n)}
	if n == 0 {
		return e
	}
	sym := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := g[i*n+j]
			if i == j {
				v += lambda
			}
			sym.SetSym(i, j, v)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(sym) {
		// X^T X + lambda I with lambda > 0 is positive definite; a failure
		// means lambda was not positive. Leave B zero: no collaborative score.
		return e
	}
	var p mat.SymDense
	if err := ch.InverseTo(&p); err != nil {
		return e
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				e.b[i*n+j] = float32(-p.At(i, j) / p.At(j, j))
			}
		}
	}
	return e
}

// row returns the modelled row of item i, or -1.
func (e *easeModel) row(i int32) int32 {
	if i < 0 || int(i) >= len(e.pos) {
		return -1
	}
	return e.pos[i]
}

// scores writes x_u B into out (over all items; unmodelled ones get 0),
// with x_u weighted by cfg.implicitWeight.
func (e *easeModel) scores(cfg Config, st *userState, acc, out []float32) {
	n := e.n
	acc = acc[:n]
	clear(acc)
	for p, i := range st.items {
		w := cfg.implicitWeight(st.values[p])
		if w == 0 {
			continue
		}
		if r := e.row(i); r >= 0 {
			axpy32(w, e.b[int(r)*n:int(r)*n+n], acc)
		}
	}
	clear(out)
	for r, i := range e.ids {
		if int(i) < len(out) {
			out[i] = acc[r]
		}
	}
}

func (e *easeModel) clone() *easeModel {
	if e == nil {
		return nil
	}
	return &easeModel{n: e.n, lmbd: e.lmbd, ids: append([]int32(nil), e.ids...),
		pos: append([]int32(nil), e.pos...), b: append([]float32(nil), e.b...)}
}
