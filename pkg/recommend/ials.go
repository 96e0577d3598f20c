package recommend

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// iALS minimises, over user vectors p_u and item vectors q_i,
//
//	sum_(u,i observed) (1 - p_u.q_i)^2 + alpha0 sum_(all u,i) (p_u.q_i)^2
//	  + sum_u lambda_u |p_u|^2 + sum_i lambda_i |q_i|^2
//
// with lambda_u = lambda (n_u + alpha0 * items), the frequency-scaled
// regularisation of Rendle et al. 2021 ("Revisiting the Performance of
// iALS"). Each row's normal equations are
//
//	(sum_(i in I_u) q_i q_i^T + alpha0 G + lambda_u I) p_u = sum_(i in I_u) q_i
//
// with G = Q^T Q, solved by warm-started conjugate gradients during the fit
// (Takacs et al. 2011) and exactly by Cholesky for a fold-in.

// ialsParams are the settings of one iALS solve.
type ialsParams struct {
	k      int
	reg    float64
	a0     float64
	nOther int // items when solving users, users when solving items
}

func (p ialsParams) rowReg(n int) float64 { return p.reg * (float64(n) + p.a0*float64(p.nOther)) }

func (m *Model) fitIALS(sig *csr, cfg Config) {
	sigT := sig.transpose()
	k := cfg.Factors
	nu, ni := sig.rows, sig.cols
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1a15))
	v := make([]float32, ni*k)
	scale := 0.1 / math.Sqrt(float64(k))
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	u := make([]float32, nu*k)
	for range cfg.IALSIters {
		ig := gram(v, k, cfg.Workers)
		ialsSweep(sig, v, ig, u, ialsParams{k: k, reg: cfg.IALSReg, a0: cfg.IALSUnobserved, nOther: ni}, cfg.Workers)
		ug := gram(u, k, cfg.Workers)
		ialsSweep(sigT, u, ug, v, ialsParams{k: k, reg: cfg.IALSReg, a0: cfg.IALSUnobserved, nOther: nu}, cfg.Workers)
	}
	m.k, m.v, m.userVec = k, v, u
	m.deriveGrams()
}

// deriveGrams computes the Gramians an iALS fold-in needs.
func (m *Model) deriveGrams() {
	if m.cfg.Family == FamilyEnsemble {
		m.deriveEnsemble()
		return
	}
	if m.cfg.Family != FamilyIALS || m.k == 0 {
		return
	}
	m.itemGram = gram(m.v, m.k, m.cfg.Workers)
	m.userGram = gram(m.userVec, m.k, m.cfg.Workers)
}

// gram returns X^T X (k x k, float64) of the row-major rows x k matrix x.
func gram(x []float32, k, workers int) []float64 {
	rows := len(x) / max(k, 1)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	parts := make([][]float64, workers)
	chunk := (rows + workers - 1) / max(workers, 1)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, rows)
		g := make([]float64, k*k)
		parts[w] = g
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := lo; r < hi; r++ {
				xr := x[r*k : r*k+k]
				for a := 0; a < k; a++ {
					xa := float64(xr[a])
					if xa == 0 {
						continue
					}
					ga := g[a*k : a*k+k]
					for b := a; b < k; b++ {
						ga[b] += xa * float64(xr[b])
					}
				}
			}
		}()
	}
	wg.Wait()
	out := make([]float64, k*k)
	for _, g := range parts { // fixed order: deterministic sums
		for i, v := range g {
			out[i] += v
		}
	}
	for a := 0; a < k; a++ {
		for b := 0; b < a; b++ {
			out[a*k+b] = out[b*k+a]
		}
	}
	return out
}

// ialsSweep updates every row of out given the fixed other side, by
// cgSteps conjugate-gradient steps warm-started from the current values.
func ialsSweep(r *csr, fixed []float32, g []float64, out []float32, prm ialsParams, workers int) {
	k := prm.k
	parallelRows(r.rows, workers, func(lo, hi int) {
		s := newIALSCG(k)
		for row := lo; row < hi; row++ {
			idx, _ := r.row(row)
			x := out[row*k : row*k+k]
			if len(idx) == 0 {
				clear(x)
				continue
			}
			for f := range k {
				s.x[f] = float64(x[f])
			}
			s.solve(idx, fixed, g, prm, cgSteps, 0)
			for f := range k {
				x[f] = float32(s.x[f])
			}
		}
	})
}

type ialsCG struct {
	k                 int
	x, res, dir, adir []float64
	v32, out32        []float32
}

func newIALSCG(k int) *ialsCG {
	return &ialsCG{k: k, x: make([]float64, k), res: make([]float64, k), dir: make([]float64, k),
		adir: make([]float64, k), v32: make([]float32, k), out32: make([]float32, k)}
}

// apply computes out = (sum_obs q q^T + a0 G + lambda_u I) v.
func (s *ialsCG) apply(idx []int32, fixed []float32, g []float64, prm ialsParams, v, out []float64) {
	k := s.k
	for f := range k {
		s.v32[f] = float32(v[f])
	}
	clear(s.out32)
	for _, c := range idx {
		q := fixed[int(c)*k : int(c)*k+k]
		axpy32(dot32(q, s.v32), q, s.out32)
	}
	reg := prm.rowReg(len(idx))
	for a := range k {
		ga := g[a*k : a*k+k]
		var gv float64
		for b, x := range ga {
			gv += x * v[b]
		}
		out[a] = float64(s.out32[a]) + prm.a0*gv + reg*v[a]
	}
}

func (s *ialsCG) solve(idx []int32, fixed []float32, g []float64, prm ialsParams, steps int, tol float64) {
	k := s.k
	clear(s.out32)
	for _, c := range idx {
		axpy32(1, fixed[int(c)*k:int(c)*k+k], s.out32)
	}
	for f := range k {
		s.res[f] = float64(s.out32[f])
	}
	stop := tol*dotF64(s.res, s.res) + 1e-24
	s.apply(idx, fixed, g, prm, s.x, s.adir)
	for f := range s.res {
		s.res[f] -= s.adir[f]
	}
	copy(s.dir, s.res)
	rr := dotF64(s.res, s.res)
	for range steps {
		if rr < stop {
			return
		}
		s.apply(idx, fixed, g, prm, s.dir, s.adir)
		den := dotF64(s.dir, s.adir)
		if den <= 0 {
			return
		}
		alpha := rr / den
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

// ialsSolveExact returns the exact solution of one row's normal equations
// (Cholesky), for the rows idx of fixed; nil when idx is empty.
func ialsSolveExact(idx []int32, fixed []float32, g []float64, prm ialsParams) []float64 {
	if len(idx) == 0 {
		return nil
	}
	k := prm.k
	a := make([]float64, k*k)
	b := make([]float64, k)
	for _, c := range idx {
		q := fixed[int(c)*k : int(c)*k+k]
		for i := range k {
			qi := float64(q[i])
			b[i] += qi
			row := a[i*k : i*k+k]
			for j := range k {
				row[j] += qi * float64(q[j])
			}
		}
	}
	reg := prm.rowReg(len(idx))
	for i := range k {
		for j := range k {
			a[i*k+j] += prm.a0 * g[i*k+j]
		}
		a[i*k+i] += reg
	}
	x := make([]float64, k)
	if !choleskySolve(a, b, x, k) {
		return nil
	}
	return x
}
