package recommend

import (
	"math"
	"math/bits"
)

// The serving kernel (issue 12) answers Recommend without the api's answer
// cache. A request costs one collaborative pass, one pass over what the
// user's content profile touches and one selection pass, with working
// memory from the model's pool.
//
// The kernel gives the same answer as the plain path (componentScores, then
// blendMap, then topK), bit for bit: every score is summed in the same order
// as there, so ties break the same way. What it changes is the layout and
// the loops:
//
//   - the item factors (PureSVD, iALS, the ensemble's) are copied, once per
//     model, into blocks of kernelBlock movies stored factor-major, so that
//     one load of p[f] serves a whole block (dotBlocks, in assembly on
//     amd64); the movies are ordered by the norm of their factors and each
//     block keeps bounds of its factors, so that a request skips the blocks
//     whose best possible score cannot enter the top K, and the moments of
//     the scores come from the factors' Gram matrix (kernel_prune.go);
//   - EASE sums the user's rows of B a chunk of columns at a time in
//     registers (sumRows);
//   - the content vectors are also kept term-major, and their leading dense
//     terms in blocks like the factors, so that a user is scored by one
//     block product plus the columns of the other terms their profile
//     touches (or a gather, when that reads less);
//   - the top-K pass compares four scores at a time with the worst kept one
//     before it looks at filters or the heap (blendScan).
//
// Item-kNN and popularity keep their own collaborative loops (a sparse
// neighbour list, a copy); they share the content and selection passes.
// The kernel costs memory: a padded copy of the item factors, the content
// vectors transposed, and the dense terms' blocks.

// kernelBlock is how many movies share one load of a factor of p.
const kernelBlock = 64

// kernel is the serving layout derived from a model's item side. A movie
// delta patches a copy of it for the next item side (next, then setItem);
// any other change of the factors or the content model (a fit, the tuner)
// is seen by fits, and the next request builds it again.
type kernel struct {
	// factors is the item-factor matrix it was built from (identity only),
	// items its item count and k the rank.
	factors *float32
	items   int
	k       int
	// gen is the item side the kernel serves: it owns the blocks of its
	// gen, and shares the others with older kernels.
	gen uint64
	// blocks holds the movies in blocks of kernelBlock, in layout order.
	// The movies EASE models come first when the ensemble adds EASE's
	// scores (the head blocks, always scored), then every other movie by
	// decreasing norm of its factors, then the movies deltas added. pos is
	// each movie's position in the layout (block pos/kernelBlock).
	blocks []*kblock
	pos    []int32
	head   int
	// sum and gram are the column sums and the Gram matrix (k x k) of the
	// factors of the movies past the head blocks, in float64: a user's
	// score mean and spread over them without scoring them.
	sum, gram []float64

	// content is the content model it was built from (identity only), and
	// byTerm its vectors transposed: term x movie, movies ascending.
	content *contentModel
	byTerm  *csr
	// The first dense terms (the genres, in practice: "g:" sorts first)
	// are on most movies; their part of the content vectors is also kept
	// in blocks like the factors, denseBlocks, and scored by dotBlocks.
	// lightNNZ counts the entries of the other terms.
	dense       int
	denseBlocks []float32
	lightNNZ    int64
}

// kblock is kernelBlock movies of the layout.
type kblock struct {
	// f holds their factors, factor-major: f[f*kernelBlock+j] is factor f
	// of movie perm[j] (-1 pads, with zeros).
	f    []float32
	perm [kernelBlock]int32
	// lo and hi are, per factor, the least and greatest factor of the
	// block's movies, and norm the greatest norm of a movie's factors
	// (rounded up): bounds of the block's scores that cost a request k
	// operations instead of k*kernelBlock. A delta only widens them, so
	// they stay bounds.
	lo, hi []float32
	norm   float32
	// mid and half are (hi+lo)/2 and (hi-lo)/2 in float64 (exact): the box
	// bound, the sum over f of the larger of p_f*lo and p_f*hi, is then
	// p.mid + |p|.half, two products without a branch.
	mid, half []float64
	gen       uint64
}

// kernelFor returns the model's kernel, building it when the model's item
// side changed since. m is an item side (Model.current), which no delta
// changes; two readers racing to build store equal kernels.
func (m *Model) kernelFor() *kernel {
	kn := m.kern.Load()
	if kn != nil && kn.fits(m) {
		return kn
	}
	kn = m.buildKernel()
	m.kern.Store(kn)
	return kn
}

func (kn *kernel) fits(m *Model) bool {
	return kn.content == m.content && kn.k == m.k && kn.items == len(m.v)/max(m.k, 1) && kn.factors == first(m.v)
}

func first(v []float32) *float32 {
	if len(v) == 0 {
		return nil
	}
	return &v[0]
}

func (m *Model) buildKernel() *kernel {
	kn := &kernel{content: m.content, byTerm: m.content.vecs.transpose(), k: m.k, factors: first(m.v), gen: m.gen}
	if m.k > 0 {
		kn.items = len(m.v) / m.k
		kn.buildFactors(m)
	}
	vecs := m.content.vecs
	kn.dense = denseTerms(kn.byTerm.ptr, vecs.rows)
	kn.lightNNZ = int64(vecs.nnz()) - kn.byTerm.ptr[kn.dense]
	if kn.dense > 0 {
		rows := make([]float32, vecs.rows*kn.dense)
		for i := range vecs.rows {
			idx, val := vecs.row(i)
			for q, t := range idx {
				if int(t) >= kn.dense {
					break
				}
				rows[i*kn.dense+int(t)] = val[q]
			}
		}
		kn.denseBlocks = blocked(rows, vecs.rows, kn.dense)
	}
	return kn
}

// blocked copies the rows x k matrix a into blocks of kernelBlock rows,
// column-major within a block, zero padded.
func blocked(a []float32, rows, k int) []float32 {
	nb := (rows + kernelBlock - 1) / kernelBlock
	out := make([]float32, nb*k*kernelBlock)
	for i := range rows {
		b, j := i/kernelBlock, i%kernelBlock
		for f, x := range a[i*k : i*k+k] {
			out[(b*k+f)*kernelBlock+j] = x
		}
	}
	return out
}

// denseTerms chooses how many leading terms to score densely, given each
// term's column pointers (ptr[t+1]-ptr[t] movies carry term t): the prefix,
// of at most maxDenseTerms, that most outweighs its dense cost, counting a
// scattered entry as worth denseGain dense ones (the block loop does four
// products per instruction, the scatter one load, add and store each).
func denseTerms(ptr []int64, movies int) int {
	const maxDenseTerms, denseGain = 128, 12
	best, bestGain, gain := 0, int64(0), int64(0)
	for t := 0; t < min(maxDenseTerms, len(ptr)-1); t++ {
		gain += (ptr[t+1]-ptr[t])*denseGain - int64(movies)
		if gain > bestGain {
			best, bestGain = t+1, gain
		}
	}
	return best
}

// padded is n rounded up to whole blocks.
func padded(n int) int { return (n + kernelBlock - 1) / kernelBlock * kernelBlock }

// factorScores writes v_i . p for the model's first len(out) movies and
// returns their mean and standard deviation, equal bit for bit to
// Model.factorScores. The pruned path (selectFactors) does not need it;
// the ensemble's full pass for a user without factors does.
func (kn *kernel) factorScores(m *Model, p []float32, out []float32) (mean, sd float64) {
	n, k := len(out), kn.k
	var buf [kernelBlock]float32
	for _, blk := range kn.blocks {
		dotBlocks(p[:k], blk.f, buf[:])
		for j, i := range blk.perm {
			if i >= 0 && int(i) < n {
				out[i] = buf[j]
			}
		}
	}
	// The plain loop scores the last n%4 movies with dot32, whose sum is
	// ordered differently: do the same here.
	for i := n - n%4; i < n; i++ {
		out[i] = dot32(p, m.v[i*k:i*k+k])
	}
	return scoreMoments(out)
}

// dotBlocksGo is dotBlocks in Go: for each block of kernelBlock movies,
// out[j] = sum over f of p[f]*block[f][j], summed in order of f.
func dotBlocksGo(p, blocks, out []float32) {
	k := len(p)
	for b := 0; b*kernelBlock < len(out); b++ {
		var acc [kernelBlock]float32
		blk := blocks[b*k*kernelBlock : (b+1)*k*kernelBlock]
		for f, pf := range p {
			row := blk[f*kernelBlock : f*kernelBlock+kernelBlock]
			for j := range acc {
				acc[j] += pf * row[j]
			}
		}
		copy(out[b*kernelBlock:], acc[:])
	}
}

// contentScores is Model.contentScores, bit for bit, reading only what the
// user's profile touches; it leaves the least and the greatest score in
// s.cmin and s.cmax (NaN left out) for the pruning's bounds. Each movie's sum runs over its terms in
// increasing order, as the plain loop's does: first the dense terms (one
// block product, whose extra terms add exact zeros), then the others,
// either scattered column by column in increasing term order (the touched
// terms come out of a bitmap sorted) or gathered movie by movie, whichever
// reads fewer entries.
func (kn *kernel) contentScores(m *Model, st *userState, s *scratch) (mean, sd float64) {
	profile, out := s.profile, s.content
	words := s.touched
	m.addProfile(st, profile, words)
	// Collect the touched terms in increasing order, clearing the bitmap.
	terms := s.terms[:0]
	for wi, w := range words {
		for w != 0 {
			b := w & -w
			terms = append(terms, int32(wi<<6+bits.TrailingZeros64(b)))
			w ^= b
		}
		words[wi] = 0
	}
	s.terms = terms
	defer func() {
		for _, t := range terms {
			profile[t] = 0
		}
	}()
	var norm float32
	var cost int64
	byTerm, dense := kn.byTerm, int32(kn.dense)
	for _, t := range terms {
		x := profile[t]
		norm += x * x
		if t >= dense {
			cost += byTerm.ptr[t+1] - byTerm.ptr[t]
		}
	}
	if norm == 0 {
		clear(out)
		s.cmin, s.cmax = 0, 0
		return 0, 0
	}
	inv := 1 / float32(math.Sqrt(float64(norm)))
	vecs := m.content.vecs
	if dense > 0 {
		nb := (vecs.rows + kernelBlock - 1) / kernelBlock
		dotBlocks(profile[:dense], kn.denseBlocks, out[:nb*kernelBlock])
	} else {
		clear(out[:vecs.rows])
	}
	if cost < kn.lightNNZ {
		for _, t := range terms {
			pt := profile[t]
			if t < dense || pt == 0 {
				continue
			}
			lo, hi := byTerm.ptr[t], byTerm.ptr[t+1]
			val := byTerm.val[lo:hi]
			for q, i := range byTerm.idx[lo:hi] {
				out[i] += pt * val[q]
			}
		}
	} else {
		for i := range vecs.rows {
			lo, hi := vecs.ptr[i], vecs.ptr[i+1]
			idx, val := vecs.idx[lo:hi], vecs.val[lo:hi]
			sc := out[i]
			for q, term := range idx {
				if term >= dense {
					sc += profile[term] * val[q]
				}
			}
			out[i] = sc
		}
	}
	for i := vecs.rows; i < len(out); i++ {
		out[i] = m.sparseDot(profile, int32(i))
	}
	var sum, sq float32
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i, sc := range out {
		x := sc * inv
		out[i] = x
		sum += x
		sq += x * x
		// Comparisons, not min and max: those carry NaN through, at a cost
		// here; a NaN score never enters a full top K, so no bound needs it.
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	s.cmin, s.cmax = lo, hi
	return moments(len(out), sum, sq)
}

// sparseDot is the profile's product with movie i's content vector.
func (m *Model) sparseDot(profile []float32, i int32) float32 {
	idx, val := m.contentVec(i)
	var sc float32
	for t, term := range idx {
		sc += profile[term] * val[t]
	}
	return sc
}

// selectTop offers every kept movie's blended score ca*collab + ta*content
// + shift to h, in index order. Offering in index order means a movie that
// only ties the worst kept one never enters, so a score is compared with
// that threshold before anything else is read.
func selectTop(h *topK, collab, content []float32, ca, ta, shift float32, excluded []bool, genreMask []uint64, mask uint64) {
	n := len(excluded)
	collab, content = collab[:n], content[:n]
	i := 0
	// Fill the heap.
	for ; i < n && len(h.h) < h.n; i++ {
		if !excluded[i] && (mask == 0 || genreMask[i]&mask != 0) {
			h.push(candidate{int32(i), ca*collab[i] + ta*content[i] + shift})
		}
	}
	if h.n == 0 {
		return
	}
	for i < n {
		// Skip the groups of four with nothing above the threshold, then
		// look at the group that stopped the scan (or the last few) one by one.
		i += blendScan(collab[i:], content[i:], ca, ta, shift, h.h[0].score)
		for end := min(i+4, n); i < end; i++ {
			x := ca*collab[i] + ta*content[i] + shift
			if !(x > h.h[0].score) { // NaN never enters, as in offer
				continue
			}
			if !excluded[i] && (mask == 0 || genreMask[i]&mask != 0) {
				h.replaceMin(candidate{int32(i), x})
			}
		}
	}
}

// blendScanGo is blendScan in Go.
func blendScanGo(collab, content []float32, ca, ta, shift, thr float32) int {
	n := len(collab) &^ 3
	for i := 0; i < n; i += 4 {
		for j := i; j < i+4; j++ {
			if ca*collab[j]+ta*content[j]+shift > thr {
				return i
			}
		}
	}
	return n
}

// sumRowsGo is sumRows in Go, from column from on: the order of EASE's
// axpy32 loop (each column sums the rows in turn), one column at a time.
func sumRowsGo(off []int, w, b, out []float32, from int) {
	for c := from; c < len(out); c++ {
		var x float32
		for q, o := range off {
			x += w[q] * b[o+c]
		}
		out[c] = x
	}
}

// easeScores is EASE's collaborative pass (easeModel.scores, then the
// moments of collabScores): the same scores bit for bit, the user's
// weighted rows of B summed column by column in registers instead of
// through memory; the moments in float64 as scoreMoments, over the
// modelled movies only.
func (m *Model) easeScores(st *userState, s *scratch) (mean, sd float64) {
	e, out := m.ease, s.collab
	m.easeRows(st, s)
	// The moments run over the modelled movies only, in index order (ids
	// increase): the others score +0, which leaves both sums unchanged.
	clear(out)
	var sum, sq float64
	for r, i := range e.ids {
		if int(i) < len(out) {
			x := s.acc[r]
			out[i] = x
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
	}
	return momentsF64(len(out), sum, sq)
}

// easeRows leaves in s.acc the user's EASE scores of the modelled movies.
func (m *Model) easeRows(st *userState, s *scratch) {
	e := m.ease
	n := e.n
	s.rowOff, s.rowW = s.rowOff[:0], s.rowW[:0]
	for p, i := range st.items {
		w := m.cfg.implicitWeight(st.values[p])
		if w == 0 {
			continue
		}
		if r := e.row(i); r >= 0 {
			s.rowOff = append(s.rowOff, int(r)*n)
			s.rowW = append(s.rowW, w)
		}
	}
	s.acc = resize(s.acc, n)
	sumRows(s.rowOff, s.rowW, e.b, s.acc)
}
