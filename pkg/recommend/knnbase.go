package recommend

import (
	"math"
	"slices"
	"sort"
)

// knnBaseline is Koren's (2008, "Factorization meets the neighborhood",
// section 2.2) neighbourhood rating predictor:
//
//	r^_ui = b_ui + sum_{j in S^k(i;u)} s_ij (r_uj - b_uj) / sum_{j in S^k(i;u)} s_ij
//
// with baseline b_ui = mu + b_u + b_i (regularised biases), S^k(i;u) the k
// movies most similar to i among those u rated, and s_ij the shrunk
// Pearson correlation of the baseline residuals over the users who rated
// both, n_ij / (n_ij + shrink) * rho_ij. Each movie keeps its most similar
// movies with a positive similarity, best first. A user's bias is a closed
// form of their ratings given the movie biases, so a user folds in from
// their row alone.
type knnBaseline struct {
	mu      float64
	bi      []float32 // per item
	li      []float32 // per item: log(1 + its ratings), a blend feature
	userReg float64   // b_u = sum (r_uj - mu - b_j) / (userReg + n_u)
	k       int       // neighbours used per prediction
	nb      *csr      // items x items, each row best first (not by column)
}

// knnBaseParams sets the neighbourhood predictor's fit.
type knnBaseParams struct {
	k       int     // neighbours per prediction
	keep    int     // neighbours stored per movie
	shrink  float64 // similarity shrinkage
	itemReg float64 // baseline regularisation of movie biases
	userReg float64 // and of user biases
	workers int
}

func defaultKNNBaseParams() knnBaseParams {
	return knnBaseParams{k: 40, keep: 100, shrink: 100, itemReg: 25, userReg: 10}
}

// fitKNNBaseline fits the predictor on the ratings r (users x items,
// values > 0) and rt, r transposed.
func fitKNNBaseline(r, rt *csr, prm knnBaseParams) *knnBaseline {
	m := &knnBaseline{bi: make([]float32, r.cols), li: make([]float32, r.cols), userReg: prm.userReg, k: prm.k}
	for i := 0; i < rt.rows; i++ {
		m.li[i] = float32(math.Log1p(float64(rt.ptr[i+1] - rt.ptr[i])))
	}
	var sum float64
	for _, v := range r.val {
		sum += float64(v)
	}
	if len(r.val) > 0 {
		m.mu = sum / float64(len(r.val))
	}
	bu := make([]float64, r.rows)
	// Alternating closed forms, users last so that each user's bias is
	// exactly what userBias computes from their row (fold-in = fit).
	for range 10 {
		for i := 0; i < rt.rows; i++ {
			users, val := rt.row(i)
			var s float64
			for p, u := range users {
				s += float64(val[p]) - m.mu - bu[u]
			}
			m.bi[i] = float32(s / (prm.itemReg + float64(len(users))))
		}
		for u := 0; u < r.rows; u++ {
			idx, val := r.row(u)
			bu[u] = m.userBias(idx, val)
		}
	}
	// Residuals of the baseline, in r's layout and transposed.
	res := &csr{rows: r.rows, cols: r.cols, ptr: r.ptr, idx: r.idx, val: make([]float32, len(r.val))}
	for u := 0; u < r.rows; u++ {
		for p := r.ptr[u]; p < r.ptr[u+1]; p++ {
			res.val[p] = r.val[p] - float32(m.mu+bu[u]) - m.bi[r.idx[p]]
		}
	}
	resT := res.transpose()
	ni := r.cols
	lists := make([][]candidate, ni)
	parallelRows(ni, prm.workers, func(lo, hi int) {
		xy := make([]float64, ni)
		xx := make([]float64, ni)
		yy := make([]float64, ni)
		cnt := make([]int32, ni)
		touched := make([]int32, 0, 1024)
		var h topK
		for i := lo; i < hi; i++ {
			users, ei := resT.row(i)
			touched = touched[:0]
			for p, u := range users {
				x := float64(ei[p])
				items, ej := res.row(int(u))
				for q, j := range items {
					if cnt[j] == 0 {
						touched = append(touched, j)
					}
					y := float64(ej[q])
					xy[j] += x * y
					xx[j] += x * x
					yy[j] += y * y
					cnt[j]++
				}
			}
			h.reset(prm.keep)
			for _, j := range touched {
				if int(j) != i && xx[j] > 0 && yy[j] > 0 {
					n := float64(cnt[j])
					s := n / (n + prm.shrink) * xy[j] / math.Sqrt(xx[j]*yy[j])
					if s > 0 {
						h.offer(j, float32(s))
					}
				}
				xy[j], xx[j], yy[j], cnt[j] = 0, 0, 0, 0
			}
			lists[i] = h.sorted()
		}
	})
	nb := &csr{rows: ni, cols: ni, ptr: make([]int64, ni+1)}
	for i, l := range lists {
		for _, c := range l {
			nb.idx = append(nb.idx, c.item)
			nb.val = append(nb.val, c.score)
		}
		nb.ptr[i+1] = int64(len(nb.idx))
	}
	m.nb = nb
	return m
}

// userBias is a user's baseline bias from their ratings (value > 0) given
// the movie biases, and the number of ratings it used; movies the model
// does not know carry no weight.
func (m *knnBaseline) userBias(idx []int32, val []float32) float64 {
	b, _ := m.userBiasN(idx, val)
	return b
}

func (m *knnBaseline) userBiasN(idx []int32, val []float32) (float64, int) {
	var s float64
	n := 0
	for p, i := range idx {
		if val[p] <= 0 || i < 0 || int(i) >= len(m.bi) {
			continue
		}
		s += float64(val[p]) - m.mu - float64(m.bi[i])
		n++
	}
	return s / (m.userReg + float64(n)), n
}

// knnUser is one user's state for the neighbourhood predictor: their bias,
// lu = log(1 + their ratings), and their baseline residuals by movie, sorted
// by movie so that a prediction looks each neighbour up in O(log n): the
// state costs the user's ratings, not the catalog (it is built for every
// Predict call and every served request).
type knnUser struct {
	bu, lu float64
	items  []int32   // rated movies, ascending
	res    []float32 // per items[k]: r_uj - b_uj
	// pos, when set, holds 1 + k for each movie items[k] and 0 for the
	// others: the serving path's O(1) lookup (one catalog-sized array
	// reused across requests) in place of a binary search.
	pos []int32
}

// user prepares ku, whose slices are reused, for a user's ratings.
func (m *knnBaseline) user(idx []int32, val []float32, ku *knnUser) {
	ni := len(m.bi)
	ku.items, ku.res = ku.items[:0], ku.res[:0]
	var n int
	ku.bu, n = m.userBiasN(idx, val)
	ku.lu = math.Log1p(float64(n))
	for p, i := range idx {
		if val[p] <= 0 || i < 0 || int(i) >= ni {
			continue
		}
		ku.items = append(ku.items, i)
		ku.res = append(ku.res, val[p]-float32(m.mu+ku.bu)-m.bi[i])
	}
	if !slices.IsSorted(ku.items) {
		sort.Sort(byItem{ku})
	}
}

// byItem sorts a knnUser's residuals by movie.
type byItem struct{ ku *knnUser }

func (b byItem) Len() int           { return len(b.ku.items) }
func (b byItem) Less(i, j int) bool { return b.ku.items[i] < b.ku.items[j] }
func (b byItem) Swap(i, j int) {
	b.ku.items[i], b.ku.items[j] = b.ku.items[j], b.ku.items[i]
	b.ku.res[i], b.ku.res[j] = b.ku.res[j], b.ku.res[i]
}

// predict returns the estimate for movie i and its baseline alone
// (unclipped), and li for the blend.
func (m *knnBaseline) predict(ku *knnUser, i int32) (est, base, li float64) {
	v := m.mu + ku.bu
	if i < 0 || int(i) >= len(m.bi) || int(i) >= m.nb.rows {
		return v, v, 0
	}
	v += float64(m.bi[i])
	li = float64(m.li[i])
	var num, den float64
	n := 0
	idx, sim := m.nb.row(int(i))
	for p, j := range idx {
		var k int
		var rated bool
		if ku.pos != nil {
			if int(j) < len(ku.pos) {
				k = int(ku.pos[j]) - 1
				rated = k >= 0
			}
		} else {
			k, rated = slices.BinarySearch(ku.items, j)
		}
		if !rated {
			continue
		}
		num += float64(sim[p]) * float64(ku.res[k])
		den += float64(sim[p])
		if n++; n == m.k {
			break
		}
	}
	if den > 0 {
		return v + num/den, v, li
	}
	return v, v, li
}

// BlendFeatures is the number of weights of the rating blend (Config.RatingBlend).
const BlendFeatures = 12

// blendFeatures writes the blend's inputs for one estimate: the three
// estimators c (biased MF, the neighbourhood predictor, its baseline
// alone), each also multiplied by lu = log(1 + the user's ratings) and by
// li = log(1 + the movie's ratings), with the constants 1, lu and li. The
// products let the weights move with support (feature-weighted linear
// stacking, Sill et al. 2009): on a thin user the baseline is worth more.
func blendFeatures(c [3]float64, lu, li float64, x *[BlendFeatures]float64) {
	x[0], x[4], x[8] = 1, lu, li
	for j, v := range c {
		x[1+j], x[5+j], x[9+j] = v, v*lu, v*li
	}
}

// fitBlend returns the least-squares weights of the features x (one row of
// BlendFeatures per held-out rating) for the targets y, with a small ridge
// that keeps the normal equations positive definite; ok is false when they
// are not (too few ratings).
func fitBlend(x [][BlendFeatures]float64, y []float64) (w [BlendFeatures]float64, ok bool) {
	const d = BlendFeatures
	a := make([]float64, d*d)
	b := make([]float64, d)
	for r, row := range x {
		for i := 0; i < d; i++ {
			b[i] += row[i] * y[r]
			for j := 0; j <= i; j++ {
				a[i*d+j] += row[i] * row[j]
			}
		}
	}
	for i := 0; i < d; i++ {
		a[i*d+i] += 1e-10*a[i*d+i] + 1e-12
		for j := 0; j < i; j++ {
			a[j*d+i] = a[i*d+j]
		}
	}
	out := make([]float64, d)
	if !choleskySolve(a, b, out, d) {
		return w, false
	}
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return w, false
		}
		w[i] = v
	}
	return w, true
}

// blended applies weights w to the features of c, lu and li.
func blended(w *[BlendFeatures]float64, c [3]float64, lu, li float64) float64 {
	var x [BlendFeatures]float64
	blendFeatures(c, lu, li, &x)
	var v float64
	for j := range x {
		v += w[j] * x[j]
	}
	return v
}
