package recommend

import (
	"math"
	"sort"
)

// fitKNN returns the item-item neighbour matrix: for each movie i, its
// `neighbors` most similar movies j by cosine with shrinkage over the
// weighted user x item matrix X (weights in 0..1; binary for MovieLens-like
// input),
//
//	sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrink)
//
// so with binary input c_ij / (sqrt(n_i n_j) + shrink), where c_ij counts
// the users with a signal on both and n_i those on i. Rows
// are sorted by column so one similarity is found by binary search.
func fitKNN(sig *csr, neighbors int, shrink float64, workers int) *csr {
	full := knnLists(sig, neighbors, shrink, workers)
	return truncateKNN(full, neighbors)
}

// knnLists returns each movie's top `neighbors` list, best first (not
// sorted by column): truncateKNN turns it into the model's matrix.
func knnLists(sig *csr, neighbors int, shrink float64, workers int) *csr {
	sigT := sig.transpose()
	ni := sig.cols
	norms := make([]float64, ni)
	for i := 0; i < ni; i++ {
		_, val := sigT.row(i)
		for _, w := range val {
			norms[i] += float64(w) * float64(w)
		}
		norms[i] = math.Sqrt(norms[i])
	}
	lists := make([][]candidate, ni)
	parallelRows(ni, workers, func(lo, hi int) {
		acc := make([]float32, ni)
		touched := make([]int32, 0, 1024)
		var h topK
		for i := lo; i < hi; i++ {
			users, wu := sigT.row(i)
			if len(users) == 0 {
				continue
			}
			touched = touched[:0]
			for p, u := range users {
				items, wj := sig.row(int(u))
				for q, j := range items {
					if acc[j] == 0 {
						touched = append(touched, j)
					}
					acc[j] += wu[p] * wj[q]
				}
			}
			h.reset(neighbors)
			for _, j := range touched {
				if int(j) != i {
					s := float64(acc[j]) / (norms[i]*norms[j] + shrink)
					h.offer(j, float32(s))
				}
				acc[j] = 0
			}
			lists[i] = h.sorted()
		}
	})
	out := &csr{rows: ni, cols: ni, ptr: make([]int64, ni+1)}
	for i, l := range lists {
		for _, c := range l {
			out.idx = append(out.idx, c.item)
			out.val = append(out.val, c.score)
		}
		out.ptr[i+1] = int64(len(out.idx))
	}
	return out
}

// truncateKNN keeps the first n of each best-first list and sorts each row
// by column.
func truncateKNN(lists *csr, n int) *csr {
	out := &csr{rows: lists.rows, cols: lists.cols, ptr: make([]int64, lists.rows+1)}
	for i := 0; i < lists.rows; i++ {
		idx, val := lists.row(i)
		if len(idx) > n {
			idx, val = idx[:n], val[:n]
		}
		start := len(out.idx)
		out.idx = append(out.idx, idx...)
		out.val = append(out.val, val...)
		sort.Sort(rowSorter{out.idx[start:], out.val[start:]})
		out.ptr[i+1] = int64(len(out.idx))
	}
	return out
}

// knnScores writes, for every movie i, the sum over the user's rated movies
// j of w_uj sim(j, i) into out, w weighted by cfg.implicitWeight.
func knnScores(cfg Config, nb *csr, st *userState, out []float32) {
	clear(out)
	for p, j := range st.items {
		w := cfg.implicitWeight(st.values[p])
		if w == 0 || int(j) >= nb.rows {
			continue
		}
		idx, val := nb.row(int(j))
		for q, i := range idx {
			out[i] += w * val[q]
		}
	}
}
