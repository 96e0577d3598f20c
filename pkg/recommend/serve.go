package recommend

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Query asks for recommendations.
type Query struct {
	User string
	// K is how many to return (1..MaxK); Offset skips that many first (paging).
	K, Offset int
	// Exclude lists movie ids never to return, besides those the user has seen.
	Exclude []string
	// Genres, when set, keeps only movies with at least one of these genres.
	Genres []string
	// ByRating ranks by the rating estimate alone instead of the hybrid
	// score (a baseline: it ranks worse, see the README).
	ByRating bool
}

// Limits on a query.
const (
	MaxK      = 1000
	MaxOffset = 10000
)

// Scored is one recommended movie.
type Scored struct {
	MovieID string
	Title   string
	// Score is the hybrid score: alpha*z(collaborative) + (1-alpha)*z(content),
	// or z(popularity) for a cold start. Comparable within one answer only.
	Score float64
	// Rating is the rating estimate on the 0.5..5 scale, for display.
	Rating float64
}

// Result is an answer to a Query.
type Result struct {
	Items []Scored
	// ColdStart is true when the user has no history: popularity ranks.
	ColdStart bool
}

// QueryError names the query field that is wrong.
type QueryError struct{ Field, Reason string }

func (e *QueryError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrBadQuery) hold.
func (e *QueryError) Unwrap() error { return ErrBadQuery }

// scratch is per-request working memory, pooled.
type scratch struct {
	collab, content []float32
	acc             []float32 // EASE's modelled-movie scores
	evec            []float32 // the ensemble's scaled user vector
	excluded        []bool
	profile         []float32
	heap            topK
	// touched marks the profile's terms (one bit each) and terms lists
	// them, for the kernel's content pass.
	touched []uint64
	terms   []int32
	// rowOff and rowW are the offsets in B and the weights of the rows
	// EASE sums for the user.
	rowOff []int
	rowW   []float32
	// ku is the rating blend's per-user working memory, kpos its movie
	// index (see knnUser.pos), zero between requests.
	ku   knnUser
	kpos []int32
	// headScores holds the pruned path's head blocks' collaborative
	// scores, p64 the user's factors in float64 and pabs their magnitudes.
	headScores []float32
	p64, pabs  []float64
	// cmin and cmax are the least and greatest content score of the
	// request (kernel.contentScores).
	cmin, cmax float32
}

func (s *scratch) reset(items, terms int) {
	s.collab = resize(s.collab, padded(items))[:items]
	s.content = resize(s.content, padded(items))[:items]
	// Rounded up to blocks, as the score vectors: a delta that adds a
	// movie then reallocates once per kernelBlock movies.
	if cap(s.excluded) < items {
		s.excluded = make([]bool, padded(items))
	}
	s.excluded = s.excluded[:items]
	clear(s.excluded)
	if cap(s.kpos) < items {
		s.kpos = make([]int32, padded(items))
	}
	s.kpos = s.kpos[:items]
	s.profile = resize(s.profile, terms)
	clear(s.profile)
	if words := (terms + 63) / 64; cap(s.touched) < words {
		s.touched = make([]uint64, words)
	} else {
		s.touched = s.touched[:words]
	}
}

func resize(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func (m *Model) getScratch() *scratch {
	s, ok := m.pool().Get().(*scratch)
	if !ok {
		s = new(scratch)
	}
	s.reset(m.items.Len(), len(m.content.terms))
	return s
}

// begin starts answering q on item side m for the user's state st (nil
// if unknown): q's genre mask, a scratch (to go back to m.pool()) with
// q's exclusions and the user's movies marked excluded, and whether they
// are a cold start.
func (m *Model) begin(q Query, st *userState) (mask uint64, s *scratch, cold bool, err error) {
	if mask, err = m.genreMaskOf(q.Genres); err != nil {
		return 0, nil, false, err
	}
	s = m.getScratch()
	for _, id := range q.Exclude {
		if i, ok := m.items.Lookup(id); ok {
			s.excluded[i] = true
		}
	}
	if st != nil {
		for _, i := range st.items {
			s.excluded[i] = true
		}
	}
	return mask, s, st == nil || !st.hasSignal(), nil
}

// Recommend returns the top movies for q.User that they have not seen.
func (m *Model) Recommend(q Query) (Result, error) {
	if q.K <= 0 || q.K > MaxK {
		return Result{}, &QueryError{"top_k", fmt.Sprintf("must be 1..%d, got %d", MaxK, q.K)}
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return Result{}, &QueryError{"offset", fmt.Sprintf("must be 0..%d, got %d", MaxOffset, q.Offset)}
	}
	m, st := m.load(q.User)
	mask, s, cold, err := m.begin(q, st)
	if err != nil {
		return Result{}, err
	}
	defer m.pool().Put(s)
	h := &s.heap
	h.reset(q.K + q.Offset)
	keep := func(i int) bool { return !s.excluded[i] && (mask == 0 || m.genreMask[i]&mask != 0) }
	switch {
	case cold:
		for i, p := range m.popularity {
			if keep(i) {
				h.offer(int32(i), p)
			}
		}
	case q.ByRating:
		est := m.estimator(st, &s.ku)
		for i := range m.popularity {
			if keep(i) {
				h.offer(int32(i), float32(est.predict(int32(i))))
			}
		}
	default:
		kn := m.kernelFor()
		if kn.prunable(m, st, len(s.collab)) {
			m.selectFactors(kn, st, s, h, mask)
			break
		}
		// The blend is fused into the top-K pass: one read of each score.
		ca, ta, shift := blendMap(m.kernelScores(kn, st, s), m.cfg.Alpha)
		selectTop(h, s.collab, s.content, ca, ta, shift, s.excluded, m.genreMask, mask)
	}
	ranked := h.sorted()
	if q.Offset >= len(ranked) {
		return Result{Items: []Scored{}, ColdStart: cold}, nil
	}
	ranked = ranked[q.Offset:]
	out := make([]Scored, len(ranked))
	est := m.estimator(st, &s.ku)
	// The neighbourhood predictor looks up the user's ratings by movie:
	// through a dense index here, filled for these few predictions.
	for p, i := range s.ku.items {
		if int(i) < len(s.kpos) && s.kpos[i] == 0 { // the first, as the search finds
			s.kpos[i] = int32(p + 1)
		}
	}
	s.ku.pos = s.kpos
	for j, c := range ranked {
		out[j] = Scored{MovieID: m.items.ID(c.item), Title: m.title(c.item), Score: float64(c.score),
			Rating: est.predict(c.item)}
	}
	for _, i := range s.ku.items {
		if int(i) < len(s.kpos) {
			s.kpos[i] = 0
		}
	}
	s.ku.pos = nil
	return Result{Items: out, ColdStart: cold}, nil
}

func (m *Model) title(i int32) string {
	if t := m.movies[i].Title; t != "" {
		return t
	}
	return "Movie " + m.movies[i].ID
}

// components is one user's two score vectors with their moments.
type components struct {
	cm, cs, tm, ts float64
}

// componentScores writes the user's collaborative scores into s.collab and
// content scores into s.content, returning the mean and standard deviation
// of each over the catalog.
func (m *Model) componentScores(st *userState, s *scratch) components {
	var c components
	c.cm, c.cs = m.collabScores(st, s)
	c.tm, c.ts = m.contentScores(st, s.profile, s.content)
	return c
}

// kernelScores is componentScores through the serving kernel.
func (m *Model) kernelScores(kn *kernel, st *userState, s *scratch) components {
	var c components
	switch {
	case m.ens != nil:
		c.cm, c.cs = m.ensembleScores(st, s, kn)
	case m.k > 0 && len(st.vec) == m.k:
		c.cm, c.cs = kn.factorScores(m, st.vec, s.collab)
	case m.ease != nil:
		c.cm, c.cs = m.easeScores(st, s)
	default:
		c.cm, c.cs = m.collabScores(st, s)
	}
	c.tm, c.ts = kn.contentScores(m, st, s)
	return c
}

// blend overwrites s.collab with alpha*z(collab) + (1-alpha)*z(content),
// with z over the whole catalog folded into one affine map per component.
// A component that is constant over the catalog carries no weight.
func blend(s *scratch, c components, alpha float64) {
	ca, ta, shift := blendMap(c, alpha)
	for i, x := range s.collab {
		s.collab[i] = ca*x + ta*s.content[i] + shift
	}
}

// blendMap returns the affine map of the blend: score = ca*collab +
// ta*content + shift. At alpha 1 content carries no weight.
func blendMap(c components, alpha float64) (ca, ta, shift float32) {
	if c.cs > 0 {
		ca = float32(alpha / c.cs)
	}
	if c.ts > 0 && alpha < 1 {
		ta = float32((1 - alpha) / c.ts)
	}
	return ca, ta, -float32(c.cm)*ca - float32(c.tm)*ta
}

// hybridScores leaves the served score of every movie in s.collab.
func (m *Model) hybridScores(st *userState, s *scratch, alpha float64) {
	c := m.componentScores(st, s)
	if alpha >= 1 {
		c.ts = 0
	}
	blend(s, c, alpha)
}

// collabScores writes the ranking family's score of every movie for st into
// s.collab and returns their mean and standard deviation. This is the one
// place each family scores (the serving kernel of issue 12 replaces it).
func (m *Model) collabScores(st *userState, s *scratch) (mean, sd float64) {
	out := s.collab
	switch {
	case m.ens != nil:
		return m.ensembleScores(st, s, nil)
	case m.k > 0 && len(st.vec) == m.k:
		return m.factorScores(st.vec, out)
	case m.ease != nil:
		s.acc = resize(s.acc, m.ease.n)
		m.ease.scores(m.cfg, st, s.acc, out)
	case m.knn != nil:
		knnScores(m.cfg, m.knn, st, out)
	default: // popularity
		copy(out, m.popularity)
	}
	return scoreMoments(out)
}

// factorScores writes v_i . p for every item and returns their mean and
// standard deviation.
func (m *Model) factorScores(p []float32, out []float32) (mean, sd float64) {
	k := m.k
	n := len(out)
	v := m.v[:n*k]
	i := 0
	// Four movies at a time: each load of p serves four products.
	for ; i+4 <= n; i += 4 {
		v0, v1, v2, v3 := v[i*k:i*k+k], v[(i+1)*k:(i+1)*k+k], v[(i+2)*k:(i+2)*k+k], v[(i+3)*k:(i+3)*k+k]
		var s0, s1, s2, s3 float32
		for f, pf := range p[:k] {
			s0 += pf * v0[f]
			s1 += pf * v1[f]
			s2 += pf * v2[f]
			s3 += pf * v3[f]
		}
		out[i], out[i+1], out[i+2], out[i+3] = s0, s1, s2, s3
	}
	for ; i < n; i++ {
		out[i] = dot32(p, v[i*k:i*k+k])
	}
	return scoreMoments(out)
}

// scoreMoments returns the mean and standard deviation of the
// collaborative scores out, summed in float64: the serving kernel takes
// the same moments from the factors' Gram matrix (selectFactors), and the
// two agree to about 1e-9 where float32 sums over 10,000 movies could
// differ by 1e-5 relative.
func scoreMoments(out []float32) (mean, sd float64) {
	var s0, s1, q0, q1 float64
	i := 0
	for ; i+2 <= len(out); i += 2 {
		x0, x1 := float64(out[i]), float64(out[i+1])
		s0 += x0
		s1 += x1
		q0 += x0 * x0
		q1 += x1 * x1
	}
	for ; i < len(out); i++ {
		x := float64(out[i])
		s0 += x
		q0 += x * x
	}
	return momentsF64(len(out), s0+s1, q0+q1)
}

// moments turns a count, sum and sum of squares into a mean and a standard
// deviation (0 when the values are constant).
func moments(n int, sum, sq float32) (mean, sd float64) {
	if n == 0 {
		return 0, 0
	}
	mean = float64(sum) / float64(n)
	sd = math.Sqrt(math.Max(float64(sq)/float64(n)-mean*mean, 0))
	if sd < 1e-6*math.Max(1, math.Abs(mean)) {
		sd = 0
	}
	return mean, sd
}

// contentScores builds the user's TF-IDF profile from what they rated
// (weight = value - Neutral, so dislikes push away; seen-only entries carry
// none) and writes the cosine of the profile with every movie into out,
// returning their mean and standard deviation.
func (m *Model) contentScores(st *userState, profile, out []float32) (mean, sd float64) {
	clear(profile)
	m.addProfile(st, profile, nil)
	var norm float32
	for _, x := range profile {
		norm += x * x
	}
	if norm == 0 {
		clear(out)
		return 0, 0
	}
	inv := 1 / float32(math.Sqrt(float64(norm)))
	var sum, sq float32
	vecs := m.content.vecs
	for i := range out {
		var idx []int32
		var val []float32
		if i < vecs.rows {
			lo, hi := vecs.ptr[i], vecs.ptr[i+1]
			idx, val = vecs.idx[lo:hi], vecs.val[lo:hi]
		} else {
			idx, val = m.contentVec(int32(i))
		}
		var sc float32
		for t, term := range idx {
			sc += profile[term] * val[t]
		}
		x := sc * inv
		out[i] = x
		sum += x
		sq += x * x
	}
	return moments(len(out), sum, sq)
}

func (m *Model) contentVec(i int32) ([]int32, []float32) {
	if int(i) < m.content.vecs.rows {
		return m.content.vecs.row(int(i))
	}
	v, _ := m.extraVec(i)
	return v.idx, v.val
}

// simRow writes the ranking family's similarity of every movie to target
// into out: the cosine of the factors, EASE's weight B_target,i, or the
// kNN similarity; 0 where the family has none (popularity).
func (m *Model) simRow(target int32, out []float32) {
	clear(out)
	switch {
	case m.k > 0:
		kf := m.k
		tv := m.v[int(target)*kf : int(target)*kf+kf]
		tn := norm32(tv)
		if tn == 0 {
			return
		}
		for i := range out {
			vi := m.v[i*kf : i*kf+kf]
			if n := norm32(vi); n > 0 {
				out[i] = dot32(tv, vi) / (n * tn)
			}
		}
	case m.ease != nil:
		if r := m.ease.row(target); r >= 0 {
			n := m.ease.n
			brow := m.ease.b[int(r)*n : int(r)*n+n]
			for j, i := range m.ease.ids {
				out[i] = brow[j]
			}
		}
	case m.knn != nil:
		if int(target) < m.knn.rows {
			idx, val := m.knn.row(int(target))
			for q, i := range idx {
				out[i] = val[q]
			}
		}
	}
}

// Similar returns the k movies most like movie id: alpha times the ranking
// family's similarity (cosine of the factors, EASE weight or kNN
// similarity) plus (1-alpha) times the cosine of the content vectors.
func (m *Model) Similar(id string, k int) ([]Scored, error) {
	if k <= 0 || k > MaxK {
		return nil, &QueryError{"k", fmt.Sprintf("must be 1..%d, got %d", MaxK, k)}
	}
	m = m.current()
	target, ok := m.items.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMovie, id)
	}
	sim := make([]float32, m.items.Len())
	m.simRow(target, sim)
	tidx, tval := m.contentVec(target)
	dense := map[int32]float32{}
	for t, term := range tidx {
		dense[term] = tval[t]
	}
	a := float32(m.cfg.Alpha)
	if m.cfg.Family == FamilyPopularity {
		a = 0
	}
	var h topK
	h.reset(k)
	for i := 0; i < m.items.Len(); i++ {
		if int32(i) == target {
			continue
		}
		idx, val := m.contentVec(int32(i))
		var ct float32
		for t, term := range idx {
			ct += dense[term] * val[t]
		}
		h.offer(int32(i), a*sim[i]+(1-a)*ct)
	}
	ranked := h.sorted()
	out := make([]Scored, len(ranked))
	var ku knnUser
	est := m.estimator(nil, &ku)
	for j, c := range ranked {
		out[j] = Scored{MovieID: m.items.ID(c.item), Title: m.title(c.item), Score: float64(c.score),
			Rating: est.predict(c.item)}
	}
	return out, nil
}

func norm32(v []float32) float32 { return float32(math.Sqrt(float64(dot32(v, v)))) }

// candidate is a scored item.
type candidate struct {
	item  int32
	score float32
}

// topK keeps the n best candidates in a min-heap. Ties break towards the
// lower item index so answers are deterministic.
type topK struct {
	n int
	h []candidate
}

func (t *topK) reset(n int) {
	t.n = n
	t.h = t.h[:0]
}

func worse(a, b candidate) bool {
	return a.score < b.score || (a.score == b.score && a.item > b.item)
}

func (t *topK) offer(item int32, score float32) {
	if len(t.h) == t.n && (score < t.h[0].score || t.n == 0) {
		return // the common case, kept small enough to inline
	}
	t.push(candidate{item, score})
}

func (t *topK) push(c candidate) {
	if len(t.h) < t.n {
		t.h = append(t.h, c)
		for j := len(t.h) - 1; j > 0; {
			p := (j - 1) / 2
			if !worse(t.h[j], t.h[p]) {
				break
			}
			t.h[j], t.h[p] = t.h[p], t.h[j]
			j = p
		}
		return
	}
	if !worse(t.h[0], c) {
		return
	}
	t.replaceMin(c)
}

// replaceMin replaces the worst kept candidate with c and restores the heap.
func (t *topK) replaceMin(c candidate) {
	t.h[0] = c
	t.siftDown()
}

// siftDown moves the root down to its place, restoring the heap.
func (t *topK) siftDown() {
	for j := 0; ; {
		l, r, s := 2*j+1, 2*j+2, j
		if l < len(t.h) && worse(t.h[l], t.h[s]) {
			s = l
		}
		if r < len(t.h) && worse(t.h[r], t.h[s]) {
			s = r
		}
		if s == j {
			break
		}
		t.h[j], t.h[s] = t.h[s], t.h[j]
		j = s
	}
}

// sorted returns the kept candidates best first, emptying the heap.
func (t *topK) sorted() []candidate {
	out := make([]candidate, len(t.h))
	for j := len(out) - 1; j >= 0; j-- {
		out[j] = t.h[0]
		last := len(t.h) - 1
		t.h[0] = t.h[last]
		t.h = t.h[:last]
		t.siftDown()
	}
	return out
}

// genreMaskOf is the filter bits of genre names, matched without regard to
// case; an unknown name is a QueryError listing the known ones. The caller
// holds the read lock.
func (m *Model) genreMaskOf(names []string) (uint64, error) {
	var mask uint64
	for _, g := range names {
		gi, ok := m.genres.Lookup(g)
		if !ok {
			for i, known := range m.genres.IDs() {
				if strings.EqualFold(known, g) {
					gi, ok = int32(i), true
					break
				}
			}
		}
		if !ok || gi >= 64 {
			known := slices.Clone(m.genres.IDs()[:min(64, m.genres.Len())])
			slices.Sort(known)
			return 0, &QueryError{"genres", fmt.Sprintf("unknown genre %q (known: %s)", g, strings.Join(known, ", "))}
		}
		mask |= 1 << uint(gi)
	}
	return mask, nil
}

// addProfile adds the user's content profile to profile: each rated
// movie's content vector weighted by the rating minus Neutral (liked
// movies only). With words, it also sets the bit of every term it touches.
func (m *Model) addProfile(st *userState, profile []float32, words []uint64) {
	neutral := float32(m.cfg.Neutral)
	for p, i := range st.items {
		if st.values[p] <= 0 {
			continue
		}
		w := st.values[p] - neutral
		if w == 0 {
			continue
		}
		idx, val := m.contentVec(i)
		for t, term := range idx {
			profile[term] += w * val[t]
			if words != nil {
				words[term>>6] |= 1 << (uint(term) & 63)
			}
		}
	}
}
