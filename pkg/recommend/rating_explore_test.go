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

	"gonum.org/v1/gonum/mat"
)

// mfEstimate is the rating model's estimate for user u (rank k): global
// mean, biases and the factors' product, for as much as the model knows.
func mfEstimate(rm *ratingModel, k int, u int32) func(i int32) float64 {
	return func(i int32) float64 {
		v := rm.mu
		if int(u) < len(rm.bu) {
			v += float64(rm.bu[u])
		}
		if int(i) < len(rm.bi) {
			v += float64(rm.bi[i])
			if int(u) < len(rm.bu) {
				v += float64(dot32(rm.p[int(u)*k:int(u)*k+k], rm.q[int(i)*k:int(i)*k+k]))
			}
		}
		return v
	}
}

// TestRatingExplore compares rating estimators on ml-100k u1..u5 with an
// inner validation split of each training part (a developer's tool; set
// SWIPEFLIX_RATING_EXPLORE to the ml-100k folder).
func TestRatingExplore(t *testing.T) {
	dir := os.Getenv("SWIPEFLIX_RATING_EXPLORE")
	if dir == "" {
		t.Skip("SWIPEFLIX_RATING_EXPLORE not set")
	}
	type est struct {
		name string
		fit  func(r, rt *csr) func(u int32, idx []int32, val []float32) func(i int32) float64
	}
	als := func(k int, reg float64, iters int) est {
		return est{fmt.Sprintf("als k=%d reg=%g it=%d", k, reg, iters), func(r, rt *csr) func(int32, []int32, []float32) func(int32) float64 {
			rm := fitRatingModel(r, rt, alsParams{factors: k, reg: reg, biasReg: 0.01, iters: iters, seed: 1})
			return func(u int32, _ []int32, _ []float32) func(int32) float64 { return mfEstimate(rm, k, u) }
		}}
	}
	knnb := func(k int, shrink float64) est {
		return est{fmt.Sprintf("knnb k=%d shrink=%g", k, shrink), func(r, rt *csr) func(int32, []int32, []float32) func(int32) float64 {
			p := defaultKNNBaseParams()
			p.k, p.shrink = k, shrink
			m := fitKNNBaseline(r, rt, p)
			return func(_ int32, idx []int32, val []float32) func(int32) float64 {
				ku := &knnUser{}
				m.user(idx, val, ku)
				return func(i int32) float64 { e, _, _ := m.predict(ku, i); return e }
			}
		}}
	}
	mfknn := func(k int, reg float64, kn int, damp float64) est {
		return est{fmt.Sprintf("mfknn k=%d kn=%d damp=%g", k, kn, damp), func(r, rt *csr) func(int32, []int32, []float32) func(int32) float64 {
			rm := fitRatingModel(r, rt, alsParams{factors: k, reg: reg, biasReg: 0.01, iters: 10, seed: 1})
			p := defaultKNNBaseParams()
			kb := fitKNNBaseline(r, rt, p)
			return func(u int32, idx []int32, val []float32) func(int32) float64 {
				mf := mfEstimate(rm, k, u)
				res := make([]float32, len(kb.bi))
				rated := make([]bool, len(kb.bi))
				for p, i := range idx {
					rated[i] = true
					res[i] = val[p] - float32(mf(i))
				}
				return func(i int32) float64 {
					v := mf(i)
					if int(i) >= kb.nb.rows {
						return v
					}
					var num, den float64
					n := 0
					nidx, sim := kb.nb.row(int(i))
					for p, j := range nidx {
						if !rated[j] {
							continue
						}
						num += float64(sim[p]) * float64(res[j])
						den += float64(sim[p])
						if n++; n == kn {
							break
						}
					}
					if den == 0 {
						return v
					}
					return v + num/(den+damp)
				}
			}
		}}
	}
	base := est{"baseline", func(r, rt *csr) func(int32, []int32, []float32) func(int32) float64 {
		kb := fitKNNBaseline(r, rt, defaultKNNBaseParams())
		return func(_ int32, idx []int32, val []float32) func(int32) float64 {
			bu := kb.userBias(idx, val)
			return func(i int32) float64 {
				if int(i) < len(kb.bi) {
					return kb.mu + bu + float64(kb.bi[i])
				}
				return kb.mu + bu
			}
		}
	}}
	ests := []est{als(64, 0.12, 5), als(64, 0.12, 10), als(8, 0.05, 10), als(8, 0.12, 10), als(128, 0.12, 10), als(4, 0.05, 10), als(64, 0.12, 20),
		knnb(40, 100), mfknn(64, 0.12, 40, 0), mfknn(64, 0.12, 40, 1), base, knnb(40, 50)}
	var testSum []float64
	blendSums := map[string]float64{}
	for fold := 1; fold <= 5; fold++ {
		ids := map[string]int32{}
		mids := map[string]int32{}
		read := func(name string) []Entry {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out []Entry
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fs := strings.Fields(sc.Text())
				u, ok := ids[fs[0]]
				if !ok {
					u = int32(len(ids))
					ids[fs[0]] = u
				}
				i, ok := mids[fs[1]]
				if !ok {
					i = int32(len(mids))
					mids[fs[1]] = i
				}
				v, _ := strconv.ParseFloat(fs[2], 64)
				out = append(out, Entry{u, i, float32(v)})
			}
			return out
		}
		base := read(fmt.Sprintf("u%d.base", fold))
		nu, ni := len(ids), len(mids)
		test := read(fmt.Sprintf("u%d.test", fold))
		full := newCSR(nu, ni, base)
		var rows []int32
		for r := 0; r < nu; r++ {
			rows = append(rows, int32(r))
		}
		vs := splitValidation(full, rows, 0.2, 4, 3000, 1)
		// predictions on validation and test per estimator
		valPred := make([][]float64, len(ests))
		testPred := make([][]float64, len(ests))
		for e, es := range ests {
			pf := es.fit(vs.train, vs.train.transpose())
			var cur int32 = -1
			var pu func(int32) float64
			for j, r := range vs.heldRows {
				if r != cur {
					idx, val := vs.train.row(int(r))
					pu, cur = pf(r, idx, val), r
				}
				valPred[e] = append(valPred[e], pu(vs.heldCols[j]))
			}
			pf = es.fit(full, full.transpose())
			cache := map[int32]func(int32) float64{}
			for _, en := range test {
				p, ok := cache[en.Row]
				if !ok {
					var idx []int32
					var val []float32
					if int(en.Row) < full.rows {
						idx, val = full.row(int(en.Row))
					}
					p = pf(en.Row, idx, val)
					cache[en.Row] = p
				}
				testPred[e] = append(testPred[e], p(en.Col))
			}
		}
		rmse := func(pred []float64, truth func(j int) float64) float64 {
			var s float64
			for j, p := range pred {
				d := math.Max(0.5, math.Min(5, p)) - truth(j)
				s += d * d
			}
			return math.Sqrt(s / float64(len(pred)))
		}
		vt := func(j int) float64 { return float64(vs.heldVals[j]) }
		tt := func(j int) float64 { return float64(test[j].Value) }
		if testSum == nil {
			testSum = make([]float64, len(ests))
		}
		for e, es := range ests {
			tr := rmse(testPred[e], tt)
			testSum[e] += tr
			t.Logf("fold %d %-28s val %.4f test %.4f", fold, es.name, rmse(valPred[e], vt), tr)
		}
		// blends: LS on validation of [1, a, b]
		trT := vs.train.transpose()
		fullT := full.transpose()
		valLU := make([]float64, len(vs.heldVals))
		valLI := make([]float64, len(vs.heldVals))
		for j, r := range vs.heldRows {
			valLU[j] = math.Log1p(float64(vs.train.ptr[r+1] - vs.train.ptr[r]))
			valLI[j] = math.Log1p(float64(trT.ptr[vs.heldCols[j]+1] - trT.ptr[vs.heldCols[j]]))
		}
		testLU := make([]float64, len(test))
		testLI := make([]float64, len(test))
		for j, en := range test {
			if int(en.Row) < full.rows {
				testLU[j] = math.Log1p(float64(full.ptr[en.Row+1] - full.ptr[en.Row]))
			}
			if int(en.Col) < fullT.rows {
				testLI[j] = math.Log1p(float64(fullT.ptr[en.Col+1] - fullT.ptr[en.Col]))
			}
		}
		for _, fw := range []int{0, 1, 2} {
			for _, pair := range [][]int{{1, 7}, {1, 8}, {1, 9}, {1, 7, 10}, {1, 8, 7}, {1, 9, 7}, {1, 9, 7, 10}, {1, 2, 7}, {1, 2, 7, 10}, {1, 2, 7, 9}} {
				nv := len(vs.heldVals)
				nf := len(pair) + 1
				if fw == 1 {
					nf += len(pair) + 1
				}
				if fw == 2 {
					nf += 2*len(pair) + 2
				}
				feat := func(pred [][]float64, lu, li []float64, j int, out []float64) {
					out[0] = 1
					for c, e := range pair {
						out[c+1] = pred[e][j]
					}
					if fw >= 1 {
						out[len(pair)+1] = lu[j]
						for c, e := range pair {
							out[len(pair)+2+c] = pred[e][j] * lu[j]
						}
					}
					if fw == 2 {
						o := 2*len(pair) + 2
						out[o] = li[j]
						for c, e := range pair {
							out[o+1+c] = pred[e][j] * li[j]
						}
					}
				}
				X := mat.NewDense(nv, nf, nil)
				y := mat.NewVecDense(nv, nil)
				row := make([]float64, nf)
				for j := 0; j < nv; j++ {
					feat(valPred, valLU, valLI, j, row)
					X.SetRow(j, row)
					y.SetVec(j, vt(j))
				}
				var w mat.VecDense
				if err := w.SolveVec(X, y); err != nil {
					t.Fatal(err)
				}
				bl := func(pred [][]float64, lu, li []float64, n int) []float64 {
					out := make([]float64, n)
					for j := range out {
						feat(pred, lu, li, j, row)
						for c := range row {
							out[j] += w.AtVec(c) * row[c]
						}
					}
					return out
				}
				name := fmt.Sprint(fw, pair)
				tr := rmse(bl(testPred, testLU, testLI, len(test)), tt)
				blendSums[name] += tr
				t.Logf("fold %d blend %v val %.4f test %.4f", fold, name, rmse(bl(valPred, valLU, valLI, nv), vt), tr)
			}
		}
	}
	for e, es := range ests {
		t.Logf("mean test %-28s %.4f", es.name, testSum[e]/5)
	}
	for n, s := range blendSums {
		t.Logf("mean test blend %s %.4f", n, s/5)
	}
}
