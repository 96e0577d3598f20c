package recommend

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// ensembleSteps is the resolution of the ensemble's weight grid: every
// weight is a multiple of 1/ensembleSteps, and they sum to 1.
const ensembleSteps = 10

// ensemble searches the weights of a sum of the z-scored PureSVD, EASE and
// iALS scores (each member at its family's best settings) on the validation
// split, then the content weight at the best of them, and records the
// result in the report. It needs two members at least.
func (s *searcher) ensemble() {
	fams := [ensMembers]Family{FamilyPureSVD, FamilyEASE, FamilyIALS}
	var have [ensMembers]bool
	n := 0
	for f, fam := range fams {
		if _, ok := s.best[fam]; ok {
			have[f] = true
			n++
		}
	}
	// EASE and iALS share LowWeight in the ensemble's configuration.
	if have[ensEASE] && have[ensIALS] && s.best[FamilyEASE].cfg.LowWeight != s.best[FamilyIALS].cfg.LowWeight {
		s.rep.Notes = append(s.rep.Notes, "ensemble without EASE: its best low_weight differs from iALS's")
		have[ensEASE] = false
		n--
	}
	if n < 2 {
		return
	}
	var grid [][ensMembers]float64
	var rec func(f, left int, w [ensMembers]float64)
	rec = func(f, left int, w [ensMembers]float64) {
		if f == ensMembers {
			if left == 0 {
				grid = append(grid, w)
			}
			return
		}
		for p := 0; p <= left; p++ {
			if p > 0 && !have[f] {
				break
			}
			w[f] = float64(p) / ensembleSteps
			rec(f+1, left-p, w)
		}
	}
	rec(0, ensembleSteps, [ensMembers]float64{})
	var multi [][ensMembers]float64 // two members or more: singles were tried
	for _, w := range grid {
		if w[0] < 1 && w[1] < 1 && w[2] < 1 {
			multi = append(multi, w)
		}
	}
	t0 := s.clock()
	nd := s.ensembleNDCG(fams, have, multi)
	best := 0
	for j := range multi {
		if nd[j] > nd[best] {
			best = j
		}
	}
	cfg := s.ensembleConfig(have, multi[best])
	s.tm.setRank(s.ensembleState(cfg))
	tr := Trial{Family: FamilyEnsemble, Settings: Settings(cfg), Alpha: 1, NDCG: nd[best], Seconds: s.clock().Sub(t0).Seconds(), Config: cfg}
	tr.Config.Alpha = 1
	ndA, rcA := s.tm.validationNDCG(s.vs, s.opt.Alphas)
	fr := FamilyResult{Family: FamilyEnsemble, Best: tr, Config: tr.Config, WithContent: Trial{NDCG: math.Inf(-1)}}
	for j, a := range s.opt.Alphas {
		t := Trial{Family: FamilyEnsemble, Settings: tr.Settings, Alpha: a, NDCG: ndA[j], Recall: rcA[j], Config: cfg}
		t.Config.Alpha = a
		if a == 1 {
			fr.Best.Recall = t.Recall
			s.rep.Trials = append(s.rep.Trials, fr.Best)
		} else {
			s.rep.Trials = append(s.rep.Trials, t)
		}
		if t.NDCG > fr.WithContent.NDCG {
			fr.WithContent = t
		}
	}
	s.rep.Ensemble = &fr
	s.rep.Notes = append(s.rep.Notes, fmt.Sprintf("ensemble: %d weightings of %d members searched, best %s validation NDCG@10 %.4f",
		len(multi), n, tr.Settings, tr.NDCG))
}

// ensembleConfig is the ensemble's configuration for weights w: each
// member's searched settings on the base.
func (s *searcher) ensembleConfig(have [ensMembers]bool, w [ensMembers]float64) Config {
	c := s.base
	c.Family, c.EnsembleWeights = FamilyEnsemble, w
	if have[ensIALS] && w[ensIALS] > 0 {
		b := s.best[FamilyIALS].cfg
		c.Factors, c.IALSReg, c.IALSUnobserved, c.IALSIters, c.LowWeight = b.Factors, b.IALSReg, b.IALSUnobserved, b.IALSIters, b.LowWeight
	}
	if have[ensEASE] && w[ensEASE] > 0 {
		b := s.best[FamilyEASE].cfg
		c.EASEReg, c.EASEMaxItems, c.LowWeight = b.EASEReg, b.EASEMaxItems, b.LowWeight
	}
	if have[ensSVD] && w[ensSVD] > 0 {
		b := s.best[FamilyPureSVD].cfg
		c.SVDFactors, c.ItemNorm = b.Factors, b.ItemNorm
	}
	return c
}

// ensembleState assembles the ensemble of cfg from the members' fitted
// states on the training part.
func (s *searcher) ensembleState(cfg Config) rankState {
	_, svdK, ialsOff, ialsK := cfg.ensembleParts()
	k := svdK + ialsK
	ni, nu := s.tm.items.Len(), s.tm.seen.rows
	r := rankState{cfg: cfg, k: k, v: make([]float32, ni*k), userVec: make([]float32, nu*k)}
	place := func(m rankState, off int) {
		placeFactors(r.v, m.v, ni, k, off, m.k)
		placeFactors(r.userVec, m.userVec, nu, k, off, m.k)
	}
	if svdK > 0 {
		m := s.best[FamilyPureSVD]
		r.sigma = make([]float64, svdK)
		copy(r.sigma, m.sigma)
		place(m, 0)
	}
	if ialsK > 0 {
		place(s.best[FamilyIALS], ialsOff)
	}
	if cfg.EnsembleWeights[ensEASE] > 0 {
		r.ease = s.best[FamilyEASE].ease
	}
	tmp := &Model{cfg: cfg, items: s.tm.items, k: k, v: r.v, userVec: r.userVec}
	tmp.deriveEnsemble()
	r.itemGram, r.userGram, r.ens = tmp.itemGram, tmp.userGram, tmp.ens
	return r
}

// ensembleNDCG scores each weighting of the members' z-scored scores on the
// validation users and returns the mean NDCG@10 of each.
func (s *searcher) ensembleNDCG(fams [ensMembers]Family, have [ensMembers]bool, grid [][ensMembers]float64) []float64 {
	tm := s.tm
	var members [ensMembers]*Model
	for f, fam := range fams {
		if have[f] {
			m := &Model{cfg: s.best[fam].cfg, items: tm.items, seen: tm.seen, rating: tm.rating,
				overlay: tm.overlay, popularity: tm.popularity}
			m.setRank(s.best[fam])
			members[f] = m
		}
	}
	per := make([]float64, len(s.vs.users)*len(grid))
	workers := s.base.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ni := tm.items.Len()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := new(scratch)
			var z [ensMembers][]float32
			acc := make([]float32, ni)
			for j := w; j < len(s.vs.users); j += workers {
				u := s.vs.users[j]
				for f, m := range members {
					if m == nil {
						continue
					}
					sc.reset(ni, 0)
					mean, sd := m.collabScores(m.userAt(u), sc)
					z[f] = resize(z[f], ni)[:ni]
					for i, x := range sc.collab {
						if sd > 0 {
							z[f][i] = float32((float64(x) - mean) / sd)
						} else {
							z[f][i] = 0
						}
					}
				}
				sc.reset(ni, 0)
				for _, i := range tm.userAt(u).items {
					sc.excluded[i] = true
				}
				for g, wt := range grid {
					clear(acc)
					for f := range members {
						if wt[f] == 0 {
							continue
						}
						a := float32(wt[f])
						for i, x := range z[f] {
							acc[i] += a * x
						}
					}
					per[j*len(grid)+g] = ndcgOf(topUnexcluded(sc, acc), s.vs.relevant[j])[0]
				}
			}
		}()
	}
	wg.Wait()
	out := make([]float64, len(grid))
	if len(s.vs.users) == 0 {
		return out
	}
	for j := range s.vs.users { // in order: deterministic sums
		for g := range grid {
			out[g] += per[j*len(grid)+g]
		}
	}
	for g := range out {
		out[g] /= float64(len(s.vs.users))
	}
	return out
}
