package recommend

import "math"

// The ensemble family ranks by a weighted sum of its members' per-user
// z-scored collaborative scores: PureSVD, EASE and iALS, with the weights
// of Config.EnsembleWeights (in that order; a member of weight 0 is not
// fitted). Each family alone lands within 0.005 NDCG@10 of the others on
// ml-100k, but they err on different movies: the sum beats each on every
// fold (docs/model.md).
//
// The factor members share the model's factor arrays: a movie's row of v
// is [PureSVD factors | iALS factors], and so is a user's vector, each part
// exactly what its family alone would hold, so fold-in and the snapshot
// treat the parts as the families do. At request time each part of the
// user's vector is scaled by w_f / sd_f, where sd_f is the standard
// deviation of the part's scores over the catalog, computed in k_f^2 from
// the part's item Gram matrix and item sum: one pass of the serving
// kernel over the concatenated factors then yields the weighted sum of the
// z-scored factor members. EASE's z-scored scores are added after it.

// ensembleWeight indexes Config.EnsembleWeights.
const (
	ensSVD = iota
	ensEASE
	ensIALS
	ensMembers
)

// ensembleParts returns the offsets and ranks of the PureSVD and iALS parts
// of an ensemble's factor vectors (rank 0: no such member).
func (c Config) ensembleParts() (svdOff, svdK, ialsOff, ialsK int) {
	if c.EnsembleWeights[ensSVD] > 0 {
		svdK = c.SVDFactors
	}
	if c.EnsembleWeights[ensIALS] > 0 {
		ialsK = c.Factors
	}
	return 0, svdK, svdK, ialsK
}

// member returns the configuration of the ensemble's member f.
func (c Config) member(f int) Config {
	out := c
	out.EnsembleWeights = [ensMembers]float64{}
	switch f {
	case ensSVD:
		out.Family, out.Factors = FamilyPureSVD, c.SVDFactors
	case ensEASE:
		out.Family = FamilyEASE
	case ensIALS:
		out.Family = FamilyIALS
	}
	return out
}

// ensembleStats holds, per factor part, the Gram matrix and the sum of the
// movies' factors: the moments of any user's part scores follow from them.
type ensembleStats struct {
	gram [2][]float64 // k_f x k_f
	sum  [2][]float64 // k_f
}

// fitEnsemble fits each member of cfg and concatenates the factor parts.
func (m *Model) fitEnsemble(sig *csr, cfg Config) {
	_, svdK, _, ialsK := cfg.ensembleParts()
	k := svdK + ialsK
	ni, nu := sig.cols, sig.rows
	m.k = k
	m.v, m.userVec = make([]float32, ni*k), make([]float32, nu*k)
	sub := &Model{items: m.items, seen: m.seen}
	place := func(off int) {
		placeFactors(m.v, sub.v, ni, k, off, sub.k)
		placeFactors(m.userVec, sub.userVec, nu, k, off, sub.k)
	}
	if svdK > 0 {
		sub.fitRanking(sig, nil, cfg.member(ensSVD))
		// A matrix of lower rank than asked for yields fewer factors: the
		// others stay zero, with singular value 0.
		m.sigma = make([]float64, svdK)
		copy(m.sigma, sub.sigma)
		place(0)
	}
	if ialsK > 0 {
		c := cfg.member(ensIALS)
		sub.cfg = c
		sub.fitRanking(sig, m.seen.implicit(c), c)
		place(svdK)
	}
	if cfg.EnsembleWeights[ensEASE] > 0 {
		m.ease = fitEASE(m.seen.implicit(cfg), cfg.EASEReg, cfg.EASEMaxItems)
	}
	m.k = k
	m.deriveGrams()
}

// part copies columns off..off+kf of the rows x k matrix x.
func part(x []float32, k, off, kf int) []float32 {
	rows := len(x) / max(k, 1)
	out := make([]float32, rows*kf)
	for r := 0; r < rows; r++ {
		copy(out[r*kf:r*kf+kf], x[r*k+off:r*k+off+kf])
	}
	return out
}

// deriveEnsemble computes the iALS part's Gramians (for fold-in) and the
// moments' statistics of both parts.
func (m *Model) deriveEnsemble() {
	_, svdK, ialsOff, ialsK := m.cfg.ensembleParts()
	st := &ensembleStats{}
	for p, kf := range []int{svdK, ialsK} {
		if kf == 0 {
			continue
		}
		v := part(m.v, m.k, p*svdK, kf)
		st.gram[p] = gram(v, kf, m.cfg.Workers)
		st.sum[p] = make([]float64, kf)
		for i := 0; i < len(v)/kf; i++ {
			for f := range kf {
				st.sum[p][f] += float64(v[i*kf+f])
			}
		}
	}
	if ialsK > 0 {
		m.itemGram = st.gram[1]
		m.userGram = gram(part(m.userVec, m.k, ialsOff, ialsK), ialsK, m.cfg.Workers)
	}
	m.ens = st
}

// updateEnsembleStats replaces old (nil for a new movie) by row in the
// moments' statistics.
func (m *Model) updateEnsembleStats(old, row []float32) {
	_, svdK, _, ialsK := m.cfg.ensembleParts()
	for p, kf := range []int{svdK, ialsK} {
		if kf == 0 {
			continue
		}
		off := p * svdK
		g, sum := m.ens.gram[p], m.ens.sum[p]
		for _, r := range []struct {
			x    []float32
			sign float64
		}{{old, -1}, {row, 1}} {
			if r.x == nil {
				continue
			}
			x := r.x[off : off+kf]
			for a := range kf {
				sum[a] += r.sign * float64(x[a])
				for b := range kf {
					g[a*kf+b] += r.sign * float64(x[a]) * float64(x[b])
				}
			}
		}
	}
}

// ensembleVec writes into out the user's factor vector with each part
// scaled by its weight over the standard deviation of its scores.
func (m *Model) ensembleVec(vec, out []float32) {
	_, svdK, _, ialsK := m.cfg.ensembleParts()
	n := float64(m.items.Len())
	for p, kf := range []int{svdK, ialsK} {
		if kf == 0 {
			continue
		}
		off := p * svdK
		x := vec[off : off+kf]
		g, sum := m.ens.gram[p], m.ens.sum[p]
		var mean, ex2 float64
		for a := range kf {
			xa := float64(x[a])
			mean += xa * sum[a]
			var row float64
			for b := range kf {
				row += g[a*kf+b] * float64(x[b])
			}
			ex2 += xa * row
		}
		mean, ex2 = mean/n, ex2/n
		sd := math.Sqrt(math.Max(ex2-mean*mean, 0))
		scale := float32(0)
		if w := m.cfg.EnsembleWeights[[2]int{ensSVD, ensIALS}[p]]; sd > 1e-6*math.Max(1, math.Abs(mean)) {
			scale = float32(w / sd)
		}
		for a := range kf {
			out[off+a] = scale * x[a]
		}
	}
}

// ensembleScores writes the ensemble's score of every movie into s.collab
// and returns their moments; kn, when not nil, runs the factor pass.
func (m *Model) ensembleScores(st *userState, s *scratch, kn *kernel) (mean, sd float64) {
	out := s.collab
	if m.k > 0 && len(st.vec) == m.k {
		s.evec = resize(s.evec, m.k)[:m.k]
		m.ensembleVec(st.vec, s.evec)
		if kn != nil {
			kn.factorScores(m, s.evec, out)
		} else {
			m.factorScores(s.evec, out)
		}
	} else {
		clear(out)
	}
	if w := m.cfg.EnsembleWeights[ensEASE]; w > 0 && m.ease != nil {
		// EASE scores only its modelled movies (the others score 0): add
		// w/sd times their scores there; the mean's shift is the same for
		// every movie and changes no ranking.
		e := m.ease
		m.easeRows(st, s)
		var sum, sq float32
		for r, i := range e.ids {
			if int(i) < len(out) {
				x := s.acc[r]
				sum += x
				sq += x * x
			}
		}
		if _, es := moments(len(out), sum, sq); es > 0 {
			a := float32(w / es)
			for r, i := range e.ids {
				if int(i) < len(out) {
					out[i] += a * s.acc[r]
				}
			}
		}
	}
	return scoreMoments(out)
}

func (st *ensembleStats) clone() *ensembleStats {
	if st == nil {
		return nil
	}
	c := &ensembleStats{}
	for p := range st.gram {
		c.gram[p] = append([]float64(nil), st.gram[p]...)
		c.sum[p] = append([]float64(nil), st.sum[p]...)
	}
	return c
}

// foldEnsembleUser writes into out the user's factor parts, each as its
// family's fold-in computes it (see FoldUser).
func (m *Model) foldEnsembleUser(id string, idx []int32, val []float32, out []float32) {
	_, svdK, ialsOff, ialsK := m.cfg.ensembleParts()
	k := m.k
	for p, i := range idx {
		if int(i+1)*k > len(m.v) {
			continue
		}
		for f := range svdK {
			out[f] += val[p] * m.v[int(i)*k+f]
		}
	}
	if ialsK == 0 {
		return
	}
	c := m.cfg.member(ensIALS)
	var fixed []float32
	var known []int32
	for p, i := range idx {
		if int(i+1)*k <= len(m.v) && c.implicitWeight(val[p]) > 0 {
			known = append(known, int32(len(known)))
			fixed = append(fixed, m.v[int(i)*k+ialsOff:int(i)*k+ialsOff+ialsK]...)
		}
	}
	if len(known) == 0 {
		return
	}
	s := newIALSCG(ialsK)
	if st := m.user(id); st != nil && len(st.vec) == k {
		for f := range ialsK {
			s.x[f] = float64(st.vec[ialsOff+f])
		}
	}
	s.solve(known, fixed, m.itemGram, ialsParams{k: ialsK, reg: c.IALSReg, a0: c.IALSUnobserved, nOther: m.items.Len()}, 2*ialsK, foldTolerance)
	for f := range ialsK {
		out[ialsOff+f] = float32(s.x[f])
	}
}

// foldEnsembleMovie writes into out a movie's factor parts, each as its
// family's fold-in computes it (see FoldMovie).
func (m *Model) foldEnsembleMovie(raters []Rater, out []float32) {
	_, svdK, ialsOff, ialsK := m.cfg.ensembleParts()
	k := m.k
	c := m.cfg.member(ensIALS)
	var userVecs []float32
	n := 0
	for _, r := range raters {
		if r.Value <= 0 {
			continue
		}
		st := m.user(r.User)
		if st == nil || len(st.vec) != k {
			continue
		}
		n++
		for f := range svdK {
			out[f] += r.Value * st.vec[f]
		}
		if ialsK > 0 && c.implicitWeight(r.Value) > 0 {
			userVecs = append(userVecs, st.vec[ialsOff:ialsOff+ialsK]...)
		}
	}
	colScale := 1.0
	if n > 0 && m.cfg.ItemNorm > 0 {
		colScale = math.Pow(float64(n), -m.cfg.ItemNorm)
	}
	for f := range svdK {
		if s2 := m.sigma[f] * m.sigma[f]; s2 > 0 {
			out[f] = float32(colScale * float64(out[f]) / s2)
		} else {
			out[f] = 0
		}
	}
	if ialsK == 0 {
		return
	}
	idx := make([]int32, len(userVecs)/ialsK)
	for j := range idx {
		idx[j] = int32(j)
	}
	x := ialsSolveExact(idx, userVecs, m.userGram, ialsParams{k: ialsK, reg: c.IALSReg, a0: c.IALSUnobserved, nOther: m.seen.rows})
	for f := range x {
		out[ialsOff+f] = float32(x[f])
	}
}

// validWeights reports whether w are finite non-negative weights of which
// one at least is positive.
func validWeights(w [ensMembers]float64) bool {
	var sum float64
	for _, x := range w {
		if !(x >= 0) || math.IsInf(x, 0) {
			return false
		}
		sum += x
	}
	return sum > 0
}

// placeFactors copies rows of kf factors from src into columns off..off+kf
// of dst's rows of k: one member's factors beside the others'.
func placeFactors(dst, src []float32, rows, k, off, kf int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*k+off:r*k+off+kf], src[r*kf:r*kf+kf])
	}
}
