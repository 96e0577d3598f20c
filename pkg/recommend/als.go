package recommend

import (
	"math"
	"math/rand/v2"
)

// ratingModel predicts a rating as mu + bu + bi + <pu, qi>. It is fitted by
// alternating least squares with regularisation weighted by the number of
// ratings of each user and item (ALS-WR, Zhou et al. 2008), which keeps
// heavy users from dominating and needs no learning rate.
type ratingModel struct {
	k      int
	mu     float64
	p, q   []float32 // users x k, items x k
	bu, bi []float32
	// nbr is the neighbourhood predictor of a blended estimate (nil
	// otherwise); it is not changed after the fit, so copies share it.
	nbr *knnBaseline
}

type alsParams struct {
	factors int
	reg     float64 // lambda for factors, times the count of ratings
	biasReg float64 // lambda for biases, times the count of ratings
	iters   int
	seed    uint64
	workers int
}

func fitRatingModel(r, rt *csr, prm alsParams) *ratingModel {
	k := prm.factors
	m := &ratingModel{
		k:  k,
		p:  make([]float32, r.rows*k),
		q:  make([]float32, r.cols*k),
		bu: make([]float32, r.rows),
		bi: make([]float32, r.cols),
	}
	var sum float64
	for _, v := range r.val {
		sum += float64(v)
	}
	if n := len(r.val); n > 0 {
		m.mu = sum / float64(n)
	}
	rng := rand.New(rand.NewPCG(prm.seed, 0x5eed))
	scale := 0.1 / math.Sqrt(float64(k))
	for i := range m.q {
		m.q[i] = float32(rng.NormFloat64() * scale)
	}
	for range prm.iters {
		solveSideCG(r, m.q, m.bi, m.p, m.bu, m.mu, prm)
		solveSideCG(rt, m.p, m.bu, m.q, m.bi, m.mu, prm)
	}
	return m
}

// cgSteps is the number of conjugate-gradient steps per row and sweep.
// Warm-started from the previous sweep, three steps reach the accuracy of an
// exact solve at a fraction of its O(n k^2) cost (Takacs et al. 2011).
const cgSteps = 3

// solveSideCG improves, for each row of r, its factors and bias towards the
// regularised least-squares solution with the other side held fixed, by
// cgSteps conjugate-gradient steps from the current values. Each step costs
// O(n k) for a row with n ratings instead of O(n k^2) for the normal matrix.
func solveSideCG(r *csr, fixed, fixedBias, out, outBias []float32, mu float64, prm alsParams) {
	k := prm.factors
	parallelRows(r.rows, prm.workers, func(lo, hi int) {
		s := newCG(k)
		for row := lo; row < hi; row++ {
			idx, val := r.row(row)
			if len(idx) == 0 {
				continue
			}
			for f := 0; f < k; f++ {
				s.x[f] = float64(out[row*k+f])
			}
			s.x[k] = float64(outBias[row])
			s.solve(idx, val, fixed, fixedBias, mu, prm, cgSteps, 0)
			for f := 0; f < k; f++ {
				out[row*k+f] = float32(s.x[f])
			}
			outBias[row] = float32(s.x[k])
		}
	})
}

// cg solves one row's regularised normal equations
// (sum_i q~_i q~_i^T + Lambda) x = sum_i t_i q~_i, with q~_i = [q_i, 1],
// t_i = r_i - mu - b_i and Lambda = n * diag(reg, ..., reg, biasReg), by
// conjugate gradients from the starting point in x.
type cg struct {
	k                 int
	x, res, dir, adir []float64
	v32, out32        []float32
}

func newCG(k int) *cg {
	d := k + 1
	return &cg{k: k, x: make([]float64, d), res: make([]float64, d), dir: make([]float64, d), adir: make([]float64, d),
		v32: make([]float32, k), out32: make([]float32, k)}
}

// apply computes out = A v. The sum over ratings runs in float32, the
// precision the factors are stored in; the regularisation term in float64.
func (s *cg) apply(idx []int32, fixed []float32, prm alsParams, v, out []float64) {
	k := s.k
	for f := 0; f < k; f++ {
		s.v32[f] = float32(v[f])
	}
	vb := float32(v[k])
	clear(s.out32)
	var ob float32
	for _, c := range idx {
		q := fixed[int(c)*k : int(c)*k+k]
		d := dot32(q, s.v32) + vb
		axpy32(d, q, s.out32)
		ob += d
	}
	n := float64(len(idx))
	for f := 0; f < k; f++ {
		out[f] = float64(s.out32[f]) + prm.reg*n*v[f]
	}
	out[k] = float64(ob) + prm.biasReg*n*v[k]
}

// axpy32 adds a*x to y.
func axpy32(a float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < n; i++ {
		y[i] += a * x[i]
	}
}

// solve runs at most steps iterations, stopping early once the squared
// residual falls below tol times that of the right-hand side.
func (s *cg) solve(idx []int32, val []float32, fixed, fixedBias []float32, mu float64, prm alsParams, steps int, tol float64) {
	k := s.k
	clear(s.res)
	for p, c := range idx {
		t := float64(val[p]) - mu - float64(fixedBias[c])
		q := fixed[int(c)*k : int(c)*k+k]
		for f, qf := range q {
			s.res[f] += t * float64(qf)
		}
		s.res[k] += t
	}
	stop := tol*dotF64(s.res, s.res) + 1e-24
	s.apply(idx, fixed, prm, s.x, s.adir)
	for f := range s.res {
		s.res[f] -= s.adir[f]
	}
	copy(s.dir, s.res)
	rr := dotF64(s.res, s.res)
	for range steps {
		if rr < stop {
			return
		}
		s.apply(idx, fixed, prm, s.dir, s.adir)
		alpha := rr / dotF64(s.dir, s.adir)
		for f := range s.x {
			s.x[f] += alpha * s.dir[f]
			s.res[f] -= alpha * s.adir[f]
		}
		rrNew := dotF64(s.res, s.res)
		beta := rrNew / rr
		rr = rrNew
		for f := range s.dir {
			s.dir[f] = s.res[f] + beta*s.dir[f]
		}
	}
}

// solver holds scratch space for one (k+1)-dimensional normal equation.
type solver struct {
	d    int
	a, b []float64
	x    []float64
}

func newSolver(d int) *solver {
	return &solver{d: d, a: make([]float64, d*d), b: make([]float64, d), x: make([]float64, d)}
}

// solveRow returns [factors..., bias] for one user (or item) given the ratings
// idx/val and the fixed other side; nil when there are no ratings.
func (s *solver) solveRow(idx []int32, val []float32, fixed, fixedBias []float32, mu float64, prm alsParams) []float64 {
	if len(idx) == 0 {
		return nil
	}
	d, k := s.d, s.d-1
	clear(s.a)
	clear(s.b)
	for p, c := range idx {
		f := fixed[int(c)*k : int(c)*k+k]
		t := float64(val[p]) - mu - float64(fixedBias[c])
		for i := 0; i < k; i++ {
			fi := float64(f[i])
			row := s.a[i*d : i*d+d]
			for j := 0; j <= i; j++ {
				row[j] += fi * float64(f[j])
			}
			row[k] += fi
			s.b[i] += t * fi
		}
		s.a[k*d+k]++
		s.b[k] += t
	}
	n := float64(len(idx))
	for i := 0; i < k; i++ {
		s.a[i*d+i] += prm.reg * n
		for j := 0; j < i; j++ {
			s.a[j*d+i] = s.a[i*d+j]
		}
		s.a[k*d+i] = s.a[i*d+k]
	}
	s.a[k*d+k] += prm.biasReg * n
	if !choleskySolve(s.a, s.b, s.x, d) {
		return nil
	}
	return s.x
}

// choleskySolve solves a x = b for a symmetric positive definite d x d
// matrix a (row-major), overwriting a with its Cholesky factor. It reports
// false when a is not positive definite.
func choleskySolve(a, b, x []float64, d int) bool {
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for p := 0; p < j; p++ {
			s -= a[j*d+p] * a[j*d+p]
		}
		if s <= 0 {
			return false
		}
		ljj := math.Sqrt(s)
		a[j*d+j] = ljj
		for i := j + 1; i < d; i++ {
			s := a[i*d+j]
			for p := 0; p < j; p++ {
				s -= a[i*d+p] * a[j*d+p]
			}
			a[i*d+j] = s / ljj
		}
	}
	for i := 0; i < d; i++ {
		s := b[i]
		for p := 0; p < i; p++ {
			s -= a[i*d+p] * x[p]
		}
		x[i] = s / a[i*d+i]
	}
	for i := d - 1; i >= 0; i-- {
		s := x[i]
		for p := i + 1; p < d; p++ {
			s -= a[p*d+i] * x[p]
		}
		x[i] = s / a[i*d+i]
	}
	return true
}

func dot32(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a)
	b = b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
