package recommend

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// truncatedSVD returns the top k singular values of m and the matching right
// singular vectors (m.cols x k, row-major), by randomised range finding with
// power iterations (Halko, Martinsson and Tropp 2011). mt is m transposed.
// The result depends only on the inputs and seed.
func truncatedSVD(m, mt *csr, k, oversample, power int, seed uint64, workers int) ([]float64, *mat.Dense) {
	l := min(k+oversample, m.rows, m.cols)
	k = min(k, l)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	omega := mat.NewDense(m.cols, l, nil)
	raw := omega.RawMatrix().Data
	for i := range raw {
		raw[i] = rng.NormFloat64()
	}
	y := mulSparse(m, omega, workers)
	orthonormalize(y)
	for range power {
		z := mulSparse(mt, y, workers)
		orthonormalize(z)
		y = mulSparse(m, z, workers)
		orthonormalize(y)
	}
	bt := mulSparse(mt, y, workers) // m.cols x l = (Q^T M)^T
	var svd mat.SVD
	if !svd.Factorize(bt, mat.SVDThin) {
		// Factorize fails only on NaN/Inf input, which the callers never build.
		panic("recommend: SVD did not converge")
	}
	values := svd.Values(nil)
	var u mat.Dense
	svd.UTo(&u)
	v := mat.NewDense(m.cols, k, nil)
	v.Copy(u.Slice(0, m.cols, 0, k))
	return values[:k], v
}

// mulSparse returns m * d for a sparse m and dense d (m.cols x c).
func mulSparse(m *csr, d *mat.Dense, workers int) *mat.Dense {
	_, c := d.Dims()
	out := mat.NewDense(m.rows, c, nil)
	src, dst := d.RawMatrix(), out.RawMatrix()
	parallelRows(m.rows, workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := dst.Data[r*dst.Stride : r*dst.Stride+c]
			idx, val := m.row(r)
			for p, col := range idx {
				w := float64(val[p])
				s := src.Data[int(col)*src.Stride : int(col)*src.Stride+c]
				for j := range o {
					o[j] += w * s[j]
				}
			}
		}
	})
	return out
}

// orthonormalize replaces the columns of a with an orthonormal basis of
// their span, by modified Gram-Schmidt applied twice for stability. A column
// that falls into the span of the previous ones becomes zero.
func orthonormalize(a *mat.Dense) {
	r, c := a.Dims()
	cols := make([][]float64, c)
	for j := range cols {
		cols[j] = mat.Col(nil, j, a)
	}
	for pass := 0; pass < 2; pass++ {
		for j, cj := range cols {
			for _, ci := range cols[:j] {
				dot := dotF64(ci, cj)
				for x := range cj {
					cj[x] -= dot * ci[x]
				}
			}
			norm := math.Sqrt(dotF64(cj, cj))
			scale := 0.0
			if norm > 1e-12 {
				scale = 1 / norm
			}
			for x := range cj {
				cj[x] *= scale
			}
		}
	}
	for j, cj := range cols {
		a.SetCol(j, cj)
	}
	_ = r
}

func dotF64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
