package recommend

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
)

// Block pruning for the factor families and the ensemble (issue 12).
//
// A request used to score every movie: at 9,742 movies and the tuned
// ensemble's 128 factors that reads 5 MB of factors per request. Most of
// the catalog cannot enter a top 10: movies few people rated have factors
// near zero. So the kernel orders the movies by the norm of their factors,
// keeps per block of kernelBlock movies the range of each factor and the
// greatest norm, and a request
//
//   - takes the mean and spread of its collaborative scores (what the
//     blend's z-scores need) from the factors' column sums and Gram
//     matrix instead of from a pass over every score (the ensemble's head
//     blocks, the movies EASE models, are scored in full and summed);
//   - scores the blocks in order, the largest factors first, so the K-th
//     best score rises early;
//   - skips a block when an upper bound of every blended score in it (the
//     smaller of |p| times the block's greatest norm and the sum over the
//     factors of the larger of p_f*lo and p_f*hi, plus the block's best
//     content score, plus a margin for float32 rounding) is below the
//     worst kept score. (A NaN score, which never enters a full top K, is
//     left out of the bounds.)
//
// The answer is the plain path's top K, with the same exact ties (broken
// by index); each score is the plain path's expression on the same float32
// products, and the moments differ from the plain path's only by the
// rounding of those products (the Gram matrix gives them exactly), so the
// scores agree to about 1e-7 relative and only movies within that of each
// other can change places (see sameItems in the tests).

// buildFactors lays out the model's factors (kn.k of them, kn.items
// movies) in the pruning order with their bounds, sums and Gram matrix.
func (kn *kernel) buildFactors(m *Model) {
	k, n := kn.k, kn.items
	norms := make([]float64, n)
	for i := range n {
		norms[i] = norm64(m.v[i*k : i*k+k])
	}
	modelled := make([]bool, n)
	head := 0
	if m.ens != nil && m.ease != nil && m.cfg.EnsembleWeights[ensEASE] > 0 {
		for _, i := range m.ease.ids {
			if int(i) < n && !modelled[i] {
				modelled[i] = true
				head++
			}
		}
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		if modelled[a] != modelled[b] {
			if modelled[a] {
				return -1
			}
			return 1
		}
		return cmp.Compare(norms[b], norms[a])
	})
	kn.head = (head + kernelBlock - 1) / kernelBlock
	kn.pos = make([]int32, n)
	// One allocation for every block's arrays: the blocks lie in memory in
	// layout order, as a request reads them.
	nb := (n + kernelBlock - 1) / kernelBlock
	f, lo, hi := make([]float32, nb*k*kernelBlock), make([]float32, nb*k), make([]float32, nb*k)
	mid, half := make([]float64, nb*k), make([]float64, nb*k)
	blks := make([]kblock, nb)
	kn.blocks = make([]*kblock, nb)
	for b := range blks {
		blk := &blks[b]
		blk.f = f[b*k*kernelBlock : (b+1)*k*kernelBlock : (b+1)*k*kernelBlock]
		blk.lo, blk.hi = lo[b*k:(b+1)*k:(b+1)*k], hi[b*k:(b+1)*k:(b+1)*k]
		blk.mid, blk.half = mid[b*k:(b+1)*k:(b+1)*k], half[b*k:(b+1)*k:(b+1)*k]
		blk.init(kn.gen)
		kn.blocks[b] = blk
	}
	for p, i := range order {
		kn.pos[i] = int32(p)
		kn.place(p, i, m.v[int(i)*k:int(i)*k+k])
	}
	kn.sum, kn.gram = make([]float64, k), make([]float64, k*k)
	x64 := make([]float64, k)
	for _, i := range order[min(n, kn.head*kernelBlock):] {
		kn.addGram(m.v[int(i)*k:int(i)*k+k], 1, x64)
	}
}

// init makes blk an empty block of the kernel of item side gen.
func (blk *kblock) init(gen uint64) {
	for j := range blk.perm {
		blk.perm[j] = -1
	}
	for f := range blk.lo {
		blk.lo[f], blk.hi[f] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	blk.gen = gen
}

// next returns a copy of kn for item side gen, which shares kn's blocks
// until setItem changes one.
func (kn *kernel) next(gen uint64) *kernel {
	c := *kn
	c.gen = gen
	c.blocks = slices.Clone(kn.blocks)
	c.sum, c.gram = slices.Clone(kn.sum), slices.Clone(kn.gram)
	return &c
}

// own returns block b, first copied when an older kernel shares it.
func (kn *kernel) own(b int) *kblock {
	blk := kn.blocks[b]
	if blk.gen == kn.gen {
		return blk
	}
	c := &kblock{f: slices.Clone(blk.f), perm: blk.perm, lo: slices.Clone(blk.lo), hi: slices.Clone(blk.hi),
		norm: blk.norm, mid: slices.Clone(blk.mid), half: slices.Clone(blk.half), gen: kn.gen}
	kn.blocks[b] = c
	return c
}

// place puts movie i, with factors x, at layout position p, growing the
// layout by a block when p is past its end, and widens its block's bounds.
func (kn *kernel) place(p int, i int32, x []float32) {
	k := kn.k
	for p >= len(kn.blocks)*kernelBlock {
		blk := &kblock{f: make([]float32, k*kernelBlock), lo: make([]float32, k), hi: make([]float32, k),
			mid: make([]float64, k), half: make([]float64, k)}
		blk.init(kn.gen)
		kn.blocks = append(kn.blocks, blk)
	}
	blk := kn.own(p / kernelBlock)
	j := p % kernelBlock
	blk.perm[j] = i
	lo, hi := blk.lo, blk.hi
	for f, v := range x {
		blk.f[f*kernelBlock+j] = v
		lo[f] = min(lo[f], v)
		hi[f] = max(hi[f], v)
		blk.mid[f] = (float64(hi[f]) + float64(lo[f])) / 2
		blk.half[f] = (float64(hi[f]) - float64(lo[f])) / 2
	}
	nf := float32(norm64(x))
	if float64(nf) < norm64(x) {
		nf = math.Nextafter32(nf, float32(math.Inf(1)))
	}
	blk.norm = max(blk.norm, nf)
}

// addGram adds sign times x's outer product to the Gram matrix and x to
// the column sums; x64 is scratch of len(x).
func (kn *kernel) addGram(x []float32, sign float64, x64 []float64) {
	k := kn.k
	for a, v := range x {
		x64[a] = float64(v)
	}
	for a, xa := range x64 {
		kn.sum[a] += sign * xa
		floats.AddScaled(kn.gram[a*k:a*k+k], sign*xa, x64)
	}
}

// setItem copies movie i's factors from m.v into the layout: at its
// position for a known movie (its block's bounds widen to hold them, the
// Gram matrix trades the old factors for the new), in the next free
// position for a new one. The kernel is a copy not yet published (next),
// and the blocks it changes are copied first (own), so no request reads
// what it changes. New movies' content vectors live in the model's extra
// content, which the kernel reads from there.
func (kn *kernel) setItem(m *Model, i int32) {
	k := m.k
	kn.factors = first(m.v)
	if k == 0 {
		return
	}
	x := m.v[int(i)*k : int(i)*k+k]
	x64 := make([]float64, k)
	p := len(kn.pos)
	switch {
	case int(i) < len(kn.pos):
		p = int(kn.pos[i])
		if p >= kn.head*kernelBlock {
			blk, j := kn.blocks[p/kernelBlock], p%kernelBlock
			old := make([]float32, k)
			for f := range old {
				old[f] = blk.f[f*kernelBlock+j]
			}
			kn.addGram(old, -1, x64)
		}
	case int(i) == len(kn.pos):
		// Appended past the end older kernels read.
		kn.pos = append(kn.pos, int32(p))
	default: // not the next movie: leave it to a rebuild
		kn.factors = nil
		return
	}
	kn.place(p, i, x)
	if p >= kn.head*kernelBlock {
		kn.addGram(x, 1, x64)
	}
	kn.items = len(m.v) / k
}

// norm64 is the Euclidean norm of x, in float64.
func norm64(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// momentsF64 is moments for sums in float64.
func momentsF64(n int, sum, sq float64) (mean, sd float64) {
	if n == 0 {
		return 0, 0
	}
	mean = sum / float64(n)
	sd = math.Sqrt(math.Max(sq/float64(n)-mean*mean, 0))
	if sd < 1e-6*math.Max(1, math.Abs(mean)) {
		sd = 0
	}
	return mean, sd
}

// prunable reports whether selectFactors can answer for st: a factor
// family or the ensemble, a user with factors, a layout covering the
// catalog.
func (kn *kernel) prunable(m *Model, st *userState, items int) bool {
	return m.k > 0 && len(st.vec) == m.k && kn.items == items && len(kn.pos) == items &&
		(m.ens != nil || m.ease == nil)
}

// pruneStats counts, for the benchmarks, the blocks a request scored and
// the blocks it skipped.
type pruneStats struct{ scored, skipped int }

// selectFactors is the default ranking (selectTop over kernelScores) for
// a user with factors, scoring only the blocks that can enter the top K.
// The caller checked prunable.
func (m *Model) selectFactors(kn *kernel, st *userState, s *scratch, h *topK, mask uint64) pruneStats {
	k := kn.k
	p := st.vec
	if m.ens != nil {
		s.evec = resize(s.evec, k)[:k]
		m.ensembleVec(st.vec, s.evec)
		p = s.evec
	}
	tm, ts := kn.contentScores(m, st, s)
	content, n := s.content, len(s.content)

	// The head blocks (the movies EASE models) are scored in full: the
	// ensemble adds EASE's scores there and their moments need both.
	hn := kn.head * kernelBlock
	s.headScores = resize(s.headScores, hn)
	hb := s.headScores
	for b, blk := range kn.blocks[:kn.head] {
		dotBlocks(p, blk.f, hb[b*kernelBlock:(b+1)*kernelBlock])
	}
	if w := m.cfg.EnsembleWeights[ensEASE]; m.ens != nil && w > 0 && m.ease != nil {
		// As ensembleScores: EASE's spread over the catalog, in float32
		// in index order, sets its weight a; the collaborative score of a
		// modelled movie is its factor score plus a times its EASE score.
		e := m.ease
		m.easeRows(st, s)
		var esum, esq float32
		for r, i := range e.ids {
			if int(i) < n {
				x := s.acc[r]
				esum += x
				esq += x * x
			}
		}
		if _, es := moments(n, esum, esq); es > 0 {
			a := float32(w / es)
			for r, i := range e.ids {
				if int(i) < n {
					hb[kn.pos[i]] += a * s.acc[r]
				}
			}
		}
	}
	// The moments: the head's scores summed as the plain path sums them,
	// the other movies' from the Gram matrix of their factors.
	var sum, sq float64
	for b, blk := range kn.blocks[:kn.head] {
		for j, i := range blk.perm {
			if i >= 0 {
				x := float64(hb[b*kernelBlock+j])
				sum += x
				sq += x * x
			}
		}
	}
	p64 := s.p64[:0]
	for _, x := range p {
		p64 = append(p64, float64(x))
	}
	s.p64 = p64
	sum += floats.Dot(p64, kn.sum)
	for a, x := range p64 {
		sq += x * floats.Dot(kn.gram[a*k:a*k+k], p64)
	}
	cm, cs := momentsF64(n, sum, sq)
	ca, ta, shift := blendMap(components{cm, cs, tm, ts}, m.cfg.Alpha)

	offer := func(i int32, x float32) {
		if len(h.h) == h.n && !(x > h.h[0].score || (x == h.h[0].score && i < h.h[0].item)) {
			return
		}
		if !s.excluded[i] && (mask == 0 || m.genreMask[i]&mask != 0) {
			h.push(candidate{i, x})
		}
	}
	for b, blk := range kn.blocks[:kn.head] {
		for j, i := range blk.perm {
			if i >= 0 {
				offer(i, ca*hb[b*kernelBlock+j]+ta*content[i]+shift)
			}
		}
	}

	// The other blocks, each skipped when a bound of its best blended
	// score is below the worst kept one. The bound is computed in float64
	// from the float32 factors; the margin covers the float32 rounding of
	// the product (at most k units of 2^-24 of sum |p_f v_f|, which |p|
	// times the block's norm bounds) and of the blend.
	var st0 pruneStats
	st0.scored = kn.head
	ca64, ta64, sh64 := float64(ca), float64(ta), float64(shift)
	prune := ca >= 0 && ta >= 0 && h.n > 0
	cmax := float64(s.cmax)
	cabs := max(math.Abs(cmax), math.Abs(float64(s.cmin)))
	pn := math.Sqrt(floats.Dot(p64, p64))
	pabs := s.pabs[:0]
	for _, x := range p64 {
		pabs = append(pabs, math.Abs(x))
	}
	s.pabs = pabs
	rel := float64(k+4) * 0x1p-22
	var buf [kernelBlock]float32
	for _, blk := range kn.blocks[kn.head:] {
		perm := &blk.perm
		if prune && len(h.h) == h.n {
			thr := float64(h.h[0].score)
			bm := pn * float64(blk.norm)
			margin := ca64*bm*rel + 1e-6*(ca64*bm+ta64*cabs+math.Abs(sh64)) + 1e-30
			base := sh64 + margin
			if base+ca64*bm+ta64*cmax < thr {
				st0.skipped++
				continue
			}
			c32 := float32(math.Inf(-1))
			for _, i := range perm {
				if i >= 0 && content[i] > c32 { // NaN left out, as in cmax
					c32 = content[i]
				}
			}
			cb := float64(c32)
			if base+ca64*bm+ta64*cb < thr {
				st0.skipped++
				continue
			}
			box := floats.Dot(p64, blk.mid) + floats.Dot(pabs, blk.half)
			if base+ca64*min(box, bm)+ta64*cb < thr {
				st0.skipped++
				continue
			}
		}
		st0.scored++
		dotBlocks(p, blk.f, buf[:])
		for j, i := range perm {
			if i >= 0 {
				offer(i, ca*buf[j]+ta*content[i]+shift)
			}
		}
	}
	return st0
}
