package recommend

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEnsembleExplore measures, on the ml-100k folds in the directory named
// by SWIPEFLIX_ENSEMBLE_DIR, whether a weighted sum of per-user z-scored
// family scores (weights chosen on the inner validation split) beats the
// best single family on validation and on the test fold (a developer's
// tool; skipped otherwise).
func TestEnsembleExplore(t *testing.T) {
	dir := os.Getenv("SWIPEFLIX_ENSEMBLE_DIR")
	if dir == "" {
		t.Skip("SWIPEFLIX_ENSEMBLE_DIR not set")
	}
	fams := []Family{FamilyPureSVD, FamilyEASE, FamilyIALS}
	folds := strings.Fields(os.Getenv("SWIPEFLIX_ENSEMBLE_FOLDS"))
	if len(folds) == 0 {
		folds = []string{"u1", "u2", "u3", "u4", "u5"}
	}
	var sumSingle, sumEns, sumVal1, sumValE, sumValP, sumPair float64
	sumFam := map[Family]float64{}
	for _, fold := range folds {
		base := readUData(t, filepath.Join(dir, fold+".base"))
		test := readUData(t, filepath.Join(dir, fold+".test"))
		opt := TuneOptions{Families: fams}
		if v, err := strconv.ParseFloat(os.Getenv("SWIPEFLIX_ENSEMBLE_VALFRAC"), 64); err == nil {
			opt.ValidationFraction = v
		}
		opt = opt.withDefaults()
		cfg := DefaultConfig().withDefaults()
		full, err := prepare(base, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rows := sampleRows(full.seen, opt.MaxTuneUsers, cfg.Seed)
		vs := splitValidation(full.seen, rows, opt.ValidationFraction, opt.Relevant, min(opt.MaxValidationUsers, max(500, validationWork/max(full.items.Len(), 1))), cfg.Seed)
		tm := &Model{cfg: cfg, items: full.items, movies: full.movies, genres: full.genres, genreMask: full.genreMask,
			seen: vs.train, content: fitContent(full.movies), extraContent: map[int32]sparseVec{},
			rating: &ratingModel{bu: make([]float32, vs.train.rows)}}
		tsig := vs.train.signal()
		tm.popularity = popularityOf(tsig, tm.items.Len())
		s := &searcher{tm: tm, vs: vs, sig: tsig, opt: opt, base: cfg, clock: opt.Now, rep: &TuneReport{}}
		if s.clock == nil {
			s.clock = zeroClock
		}
		for _, f := range fams {
			s.family(f)
		}
		// Validation z-scores per family.
		n := tm.items.Len()
		zval := make([][][]float32, len(fams))
		excl := make([][]int32, len(vs.users))
		for fi, f := range fams {
			st := s.best[f]
			tm.setRank(st)
			zval[fi] = make([][]float32, len(vs.users))
			for j, u := range vs.users {
				us := tm.userAt(u)
				sc := new(scratch)
				sc.reset(n, len(tm.content.terms))
				mean, sd := tm.collabScores(us, sc)
				zval[fi][j] = zscore(sc.collab, mean, sd)
				excl[j] = us.items
			}
			t.Logf("%s val %s %s ndcg %.4f", fold, f, st.trial.Settings, evalEns(zval[:fi+1], oneHot(fi+1, fi), excl, vs.relevant))
		}
		grid := simplex(len(fams), 10)
		bestW, bestN := grid[0], math.Inf(-1)
		single, singleN := 0, math.Inf(-1)
		for _, w := range grid {
			nd := evalEns(zval, w, excl, vs.relevant)
			if nd > bestN+1e-9 {
				bestW, bestN = w, nd
			}
			for fi := range fams {
				if w[fi] == 1 && nd > singleN {
					single, singleN = fi, nd
				}
			}
		}
		t.Logf("%s val single %s %.4f ensemble %v %.4f", fold, fams[single], singleN, bestW, bestN)
		pairW, pairN := grid[0], math.Inf(-1)
		for _, w := range grid {
			if w[1] != 0 { // PureSVD + iALS: the factor families
				continue
			}
			if nd := evalEns(zval, w, excl, vs.relevant); nd > pairN+1e-9 {
				pairW, pairN = w, nd
			}
		}
		t.Logf("%s val pair %v %.4f", fold, pairW, pairN)
		sumValP += pairN
		sumVal1 += singleN
		sumValE += bestN
		// Test fold: refit each member on the whole base.
		ztest := make([][][]float32, len(fams))
		var texcl [][]int32
		var trel [][]int32
		relOf := map[int32][]int32{}
		for _, in := range test.Interactions {
			if in.Value < 4 {
				continue
			}
			u, ok1 := full.users.Lookup(in.User)
			i, ok2 := full.items.Lookup(in.Movie)
			if ok1 && ok2 {
				relOf[u] = append(relOf[u], i)
			}
		}
		var tusers []int32
		for u := int32(0); int(u) < full.seen.rows; u++ {
			if r := relOf[u]; len(r) > 0 {
				sortInt32(r)
				tusers = append(tusers, u)
				trel = append(trel, r)
			}
		}
		for fi, f := range fams {
			m := rankOnlyFit(t, base, s.best[f].cfg)
			ztest[fi] = make([][]float32, len(tusers))
			texcl = texcl[:0]
			for j, u := range tusers {
				us := m.userAt(u)
				sc := new(scratch)
				sc.reset(n, len(m.content.terms))
				mean, sd := m.collabScores(us, sc)
				ztest[fi][j] = zscore(sc.collab, mean, sd)
				texcl = append(texcl, us.items)
			}
			nd := evalEns(ztest[:fi+1], oneHot(fi+1, fi), texcl, trel)
			sumFam[f] += nd
			t.Logf("%s test %s %.4f", fold, f, nd)
		}
		e := evalEns(ztest, bestW, texcl, trel)
		sg := evalEns(ztest, oneHot(len(fams), single), texcl, trel)
		pe := evalEns(ztest, pairW, texcl, trel)
		sumPair += pe
		t.Logf("%s test chosen single %.4f ensemble %.4f pair %.4f", fold, sg, e, pe)
		sumSingle += sg
		sumEns += e
	}
	k := float64(len(folds))
	for _, f := range fams {
		t.Logf("mean test %s %.4f", f, sumFam[f]/k)
	}
	t.Logf("mean val single %.4f ensemble %.4f pair %.4f; mean test single %.4f ensemble %.4f pair %.4f", sumVal1/k, sumValE/k, sumValP/k, sumSingle/k, sumEns/k, sumPair/k)
}

func zeroClock() time.Time { return time.Time{} }

func oneHot(n, i int) []float64 {
	w := make([]float64, n)
	w[i] = 1
	return w
}

// simplex returns every weight vector of n non-negative multiples of
// 1/steps summing to 1.
func simplex(n, steps int) [][]float64 {
	var out [][]float64
	var rec func(prefix []int, left int)
	rec = func(prefix []int, left int) {
		if len(prefix) == n-1 {
			w := make([]float64, n)
			for i, p := range prefix {
				w[i] = float64(p) / float64(steps)
			}
			w[n-1] = float64(left) / float64(steps)
			out = append(out, w)
			return
		}
		for p := 0; p <= left; p++ {
			rec(append(append([]int(nil), prefix...), p), left-p)
		}
	}
	rec(nil, steps)
	return out
}

func zscore(x []float32, mean, sd float64) []float32 {
	out := make([]float32, len(x))
	if sd == 0 {
		return out
	}
	for i, v := range x {
		out[i] = float32((float64(v) - mean) / sd)
	}
	return out
}

func evalEns(z [][][]float32, w []float64, excl [][]int32, rel [][]int32) float64 {
	var sum float64
	n := len(z[0][0])
	acc := make([]float32, n)
	s := new(scratch)
	for j := range rel {
		clear(acc)
		for f := range z {
			if w[f] == 0 {
				continue
			}
			wf := float32(w[f])
			for i, v := range z[f][j] {
				acc[i] += wf * v
			}
		}
		s.reset(n, 0)
		for _, i := range excl[j] {
			s.excluded[i] = true
		}
		sum += ndcgOf(topUnexcluded(s, acc), rel[j])[0]
	}
	return sum / float64(len(rel))
}

func sortInt32(x []int32) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}

func readUData(t testing.TB, path string) TrainSet {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts TrainSet
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(fs[2], 64)
		if err != nil {
			t.Fatal(fmt.Errorf("%s: %w", path, err))
		}
		ts.Interactions = append(ts.Interactions, Interaction{User: fs[0], Movie: fs[1], Value: v})
	}
	return ts
}

// rankOnlyFit fits c's ranking family alone on ts (no rating model).
func rankOnlyFit(t testing.TB, ts TrainSet, c Config) *Model {
	c.Alpha = 1
	c = c.withDefaults()
	m, err := prepare(ts, c)
	if err != nil {
		t.Fatal(err)
	}
	m.cfg = c
	sig := m.seen.signal()
	m.popularity = popularityOf(sig, m.items.Len())
	m.fitRanking(sig, m.seen.implicit(c), c)
	m.rating = &ratingModel{bu: make([]float32, m.seen.rows)}
	m.content = fitContent(m.movies)
	return m
}

// testUsers returns the base users with a relevant (>= 4) rating in test,
// and those ratings as sorted item indices of m.
func testUsers(m *Model, test TrainSet) ([]int32, [][]int32) {
	relOf := map[int32][]int32{}
	for _, in := range test.Interactions {
		if in.Value < 4 {
			continue
		}
		u, ok1 := m.users.Lookup(in.User)
		i, ok2 := m.items.Lookup(in.Movie)
		if ok1 && ok2 {
			relOf[u] = append(relOf[u], i)
		}
	}
	var users []int32
	var rel [][]int32
	for u := int32(0); int(u) < m.seen.rows; u++ {
		if r := relOf[u]; len(r) > 0 {
			sortInt32(r)
			users = append(users, u)
			rel = append(rel, r)
		}
	}
	return users, rel
}

// testNDCG is a single family's mean NDCG@10 on the test users.
func testNDCG(m *Model, users []int32, rel [][]int32) float64 {
	var sum float64
	sc := new(scratch)
	for j, u := range users {
		us := m.userAt(u)
		sc.reset(m.items.Len(), len(m.content.terms))
		for _, i := range us.items {
			sc.excluded[i] = true
		}
		m.collabScores(us, sc)
		sum += ndcgOf(topUnexcluded(sc, sc.collab), rel[j])[0]
	}
	return sum / float64(len(users))
}

// TestRankSizeExplore prints, per fold, each PureSVD rank's and EASE
// lambda's and iALS rank's validation NDCG@10 (at validation fractions 0.2
// and 0.1) against its test NDCG@10 when fitted on the whole training part:
// does validation prefer lower ranks than the full fit would?
func TestRankSizeExplore(t *testing.T) {
	dir := os.Getenv("SWIPEFLIX_ENSEMBLE_DIR")
	if dir == "" {
		t.Skip("SWIPEFLIX_ENSEMBLE_DIR not set")
	}
	folds := strings.Fields(os.Getenv("SWIPEFLIX_ENSEMBLE_FOLDS"))
	if len(folds) == 0 {
		folds = []string{"u1", "u2", "u3", "u4", "u5"}
	}
	type key struct {
		fam Family
		set string
	}
	val := map[float64]map[key]float64{0.2: {}, 0.1: {}}
	tst := map[key]float64{}
	var order []key
	for _, fold := range folds {
		base := readUData(t, filepath.Join(dir, fold+".base"))
		test := readUData(t, filepath.Join(dir, fold+".test"))
		for _, frac := range []float64{0.2, 0.1} {
			opt := TuneOptions{Families: []Family{FamilyPureSVD, FamilyEASE, FamilyIALS}, ValidationFraction: frac, NoEnsemble: true,
				Grid: map[Family][]Config{FamilyIALS: {{Factors: 16, IALSReg: 0.03, IALSUnobserved: 0.1, IALSIters: 8}, {Factors: 32, IALSReg: 0.03, IALSUnobserved: 0.1, IALSIters: 8}, {Factors: 64, IALSReg: 0.03, IALSUnobserved: 0.1, IALSIters: 8}, {Factors: 128, IALSReg: 0.03, IALSUnobserved: 0.1, IALSIters: 8}}}}
			_, rep, err := Tune(base, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range rep.Trials {
				if tr.Alpha != 1 || tr.Family == FamilyPopularity {
					continue
				}
				k := key{tr.Family, tr.Settings}
				if _, ok := tst[k]; !ok && frac == 0.2 && fold == folds[0] {
					order = append(order, k)
					tst[k] = 0
				}
				val[frac][k] += tr.NDCG / float64(len(folds))
				if frac == 0.2 {
					m := rankOnlyFit(t, base, tr.Config)
					users, rel := testUsers(m, test)
					tst[k] += testNDCG(m, users, rel) / float64(len(folds))
				}
			}
		}
	}
	for _, k := range order {
		t.Logf("%-8s %-55s val0.2 %.4f val0.1 %.4f test %.4f", k.fam, k.set, val[0.2][k], val[0.1][k], tst[k])
	}
}
