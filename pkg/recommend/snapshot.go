package recommend

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// Snapshot layout, format 4 (all integers little-endian):
//
//	magic "SWFXSNAP" | uint16 format | body | sha256(magic..body)
//
// The body is a sequence of fields: uvarint-length-prefixed strings and
// slices, and fixed-size numbers, in the order of MarshalBinary: version,
// config (JSON, naming the family), users, movies, interactions, the
// ranking family's state (factors; EASE's movies and weights; kNN's
// neighbour matrix), the rating model (format 3 adds the rating blend's
// neighbourhood predictor after it), content, popularity, and folded-in
// state. Every length is checked against the bytes that remain before
// anything is allocated, and every number is validated (finite, in range)
// before a model is returned. Format 1 (PureSVD only, before the families)
// is refused with ErrFormat1: a trainer refits and publishes format 4.
// Format 2 (no rating blend) is read: its rating estimate is biased MF.
// Format 4 has the layout of format 3 and may name the ensemble family,
// which a format-3 reader could not serve; 3 is read as it was.
const (
	snapshotMagic  = "SWFXSNAP"
	snapshotFormat = 4
)

// ErrFormat1 is returned by Decode for a snapshot of format 1.
var ErrFormat1 = fmt.Errorf("%w: snapshot format 1 is no longer read (written before the model families); refit to publish format %d", ErrCorrupt, snapshotFormat)

// MarshalBinary encodes the model, including folded-in state, as a snapshot.
func (m *Model) MarshalBinary() ([]byte, error) {
	return m.marshal(snapshotFormat)
}

// marshal encodes the model in a snapshot format: the current one, or 2
// (the tests' check that format 2 is still read) for a model without a
// rating blend.
func (m *Model) marshal(format uint16) ([]byte, error) {
	m.overlay.mu.Lock() // no delta meanwhile
	defer m.overlay.mu.Unlock()
	version := m.Version
	m = m.current()
	if format < 3 && m.rating.nbr != nil {
		return nil, fmt.Errorf("encode: format %d has no rating blend", format)
	}
	var b bytes.Buffer
	b.Grow(m.snapshotSizeHint())
	w := &writer{buf: &b}
	b.WriteString(snapshotMagic)
	w.u16(format)
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	w.i64(version)
	w.bytes(cfg)
	users := m.users.IDs()
	w.strings(append(users[:len(users):len(users)], m.overlay.added...))
	w.strings(m.items.IDs())
	for _, mv := range m.movies {
		w.str(mv.Title)
		w.uv(uint64(max(mv.Year, 0)))
		w.strings(mv.Genres)
		w.strings(mv.Tags)
		w.str(mv.Overview)
	}
	w.csr(m.seen)
	w.uv(uint64(m.k))
	w.f64s(m.sigma)
	w.f32s(m.v)
	w.f32s(m.userVec)
	if m.ease != nil {
		w.uv(1)
		w.i32s(m.ease.ids)
		w.f64(m.ease.lmbd)
		w.f32s(m.ease.b)
	} else {
		w.uv(0)
	}
	if m.knn != nil {
		w.uv(1)
		w.csr(m.knn)
	} else {
		w.uv(0)
	}
	rm := m.rating
	w.uv(uint64(rm.k))
	w.f64(rm.mu)
	w.f32s(rm.p)
	w.f32s(rm.q)
	w.f32s(rm.bu)
	w.f32s(rm.bi)
	if nb := rm.nbr; format < 3 {
	} else if nb != nil {
		w.uv(1)
		w.f64(nb.mu)
		w.f64(nb.userReg)
		w.uv(uint64(nb.k))
		w.f32s(nb.bi)
		w.f32s(nb.li)
		w.csr(nb.nb)
	} else {
		w.uv(0)
	}
	w.strings(m.content.terms)
	w.f32s(m.content.idf)
	w.csr(m.content.vecs)
	w.f32s(m.popularity)
	w.uv(uint64(m.extraCount()))
	for i := int32(0); int(i) < m.items.Len(); i++ {
		if v, ok := m.extraVec(i); ok {
			w.uv(uint64(i))
			w.i32s(v.idx)
			w.f32s(v.val)
		}
	}
	var changed []int
	var states []*userState
	m.overlay.each(users, func(u int, _ string, st *userState) {
		changed = append(changed, u)
		states = append(states, st)
	})
	w.uv(uint64(len(states)))
	for j, st := range states {
		w.uv(uint64(changed[j]))
		w.i32s(st.items)
		w.f32s(st.values)
		w.f32s(st.vec)
		w.f32s(st.rvec)
		w.f32(st.rbias)
	}
	b.Write(checksum(b.Bytes()))
	return b.Bytes(), nil
}

// Decode reads a snapshot, verifying its checksum, every length and every
// number (see Validate). It never panics on hostile input; errors wrap
// ErrCorrupt.
func Decode(data []byte) (*Model, error) {
	if len(data) < len(snapshotMagic)+2+sha256.Size || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a snapshot", ErrCorrupt)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if !bytes.Equal(checksum(body), sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	r := &reader{b: body[len(snapshotMagic):]}
	format := r.u16()
	switch format {
	case snapshotFormat, 3, 2:
	case 1:
		return nil, ErrFormat1
	default:
		return nil, fmt.Errorf("%w: format %d, want %d", ErrCorrupt, format, snapshotFormat)
	}
	m := &Model{extraContent: map[int32]sparseVec{}, overlay: &userOverlay{}, genres: NewIndex(nil)}
	m.Version = r.i64()
	if err := json.Unmarshal(r.bytes(), &m.cfg); err != nil && r.err == nil {
		r.fail("config: %v", err)
	}
	if r.err == nil && (!m.cfg.Family.valid() || (m.cfg.Family == FamilyEnsemble && format < 4)) {
		r.fail("unknown family %q in format %d", m.cfg.Family, format)
	}
	m.users = NewIndex(r.strings())
	itemIDs := r.strings()
	m.items = NewIndex(nil)
	for _, id := range itemIDs {
		if r.err != nil {
			break
		}
		mv := MovieInfo{ID: id, Title: r.str(), Year: int(r.uv()), Genres: r.strings(), Tags: r.strings(), Overview: r.str()}
		m.addMovie(mv)
	}
	nu, ni := m.users.Len(), m.items.Len()
	if r.err == nil && (nu != len(m.users.IDs()) || ni != len(itemIDs)) {
		r.fail("duplicate ids")
	}
	m.seen = r.csr()
	m.k = int(r.uv())
	m.sigma = r.f64s()
	m.v = r.f32s()
	m.userVec = r.f32s()
	if r.uv() == 1 {
		e := &easeModel{ids: r.i32s(), lmbd: r.f64(), b: r.f32s()}
		e.n = len(e.ids)
		if r.err == nil {
			if uint64(e.n)*uint64(e.n) != uint64(len(e.b)) || !increasing(e.ids, ni) {
				r.fail("EASE state of %d movies", e.n)
			} else {
				e.pos = make([]int32, ni)
				for i := range e.pos {
					e.pos[i] = -1
				}
				for row, i := range e.ids {
					e.pos[i] = int32(row)
				}
				m.ease = e
			}
		}
	}
	if r.uv() == 1 {
		nb := r.csr()
		if r.err == nil {
			if nb.rows != nb.cols || nb.rows > ni || !sortedRows(nb) {
				r.fail("kNN matrix %d x %d", nb.rows, nb.cols)
			}
			m.knn = nb
		}
	}
	rm := &ratingModel{}
	rm.k = int(r.uv())
	rm.mu = r.f64()
	rm.p, rm.q, rm.bu, rm.bi = r.f32s(), r.f32s(), r.f32s(), r.f32s()
	m.rating = rm
	if format >= 3 && r.uv() == 1 {
		nb := &knnBaseline{mu: r.f64(), userReg: r.f64(), k: int(r.uv()), bi: r.f32s(), li: r.f32s()}
		nb.nb = r.csr()
		if r.err == nil {
			if nb.k < 1 || nb.k > maxFactors || len(nb.bi) != len(nb.li) || len(nb.bi) > len(itemIDs) ||
				nb.nb.rows != len(nb.bi) || nb.nb.cols != len(nb.bi) || !inRange(nb.nb.idx, len(nb.bi)) ||
				!finiteIn(nb.mu, 0, 5) || !finiteIn(nb.userReg, 0, maxAbsFactor) {
				r.fail("rating blend's neighbourhood predictor")
			}
			rm.nbr = nb
		}
	}
	if r.err == nil && (rm.nbr != nil) != m.cfg.blends() {
		r.fail("rating blend weights without its neighbourhood predictor, or the reverse")
	}
	m.content = &contentModel{terms: r.strings(), idf: r.f32s()}
	m.content.vecs = r.csr()
	m.popularity = r.f32s()
	if r.err != nil {
		return nil, r.err
	}
	k, rk := m.k, rm.k
	fam := m.cfg.Family
	factorFam := fam == FamilyPureSVD || fam == FamilyIALS
	wantK, wantSigma, wantEASE := -1, 0, fam == FamilyEASE
	switch fam {
	case FamilyPureSVD:
		wantSigma = k
	case FamilyEnsemble:
		_, svdK, _, ialsK := m.cfg.ensembleParts()
		wantK, wantSigma, wantEASE = svdK+ialsK, svdK, m.cfg.EnsembleWeights[ensEASE] > 0
		factorFam = wantK > 0
		if !validWeights(m.cfg.EnsembleWeights) {
			r.fail("ensemble weights %v", m.cfg.EnsembleWeights)
		}
	}
	switch {
	case k < 0 || k > maxFactors || rk < 0 || rk > maxFactors || (k > 0) != factorFam || (wantK >= 0 && k != wantK):
		r.fail("factor counts %d, %d for family %s", k, rk, fam)
	case len(m.sigma) != wantSigma:
		r.fail("%d singular values for rank %d", len(m.sigma), k)
	case wantEASE != (m.ease != nil) || (fam == FamilyKNN) != (m.knn != nil):
		r.fail("family %s without its state", fam)
	case len(m.v) != ni*k || len(rm.q) != ni*rk || len(rm.bi) != ni || len(m.popularity) != ni:
		r.fail("item arrays do not match %d movies", ni)
	case m.seen.rows > nu || m.seen.cols > ni || len(m.userVec) != m.seen.rows*k ||
		len(rm.p) != m.seen.rows*rk || len(rm.bu) != m.seen.rows:
		r.fail("user arrays do not match %d users", m.seen.rows)
	case m.content.vecs.rows > ni || m.content.vecs.cols != len(m.content.terms) || len(m.content.idf) != len(m.content.terms):
		r.fail("content arrays do not match")
	}
	for n := r.uv(); n > 0 && r.err == nil; n-- {
		i := r.uv()
		v := sparseVec{r.i32s(), r.f32s()}
		if r.err == nil && (i >= uint64(ni) || int(i) < m.content.vecs.rows || len(v.idx) != len(v.val) || !inRange(v.idx, len(m.content.terms))) {
			r.fail("extra content of movie %d", i)
		}
		m.extraContent[int32(i)] = v
	}
	for n := r.uv(); n > 0 && r.err == nil; n-- {
		u := r.uv()
		st := &userState{items: r.i32s(), values: r.f32s(), vec: r.f32s(), rvec: r.f32s(), rbias: r.f32()}
		if r.err == nil && (u >= uint64(nu) || len(st.items) != len(st.values) || len(st.vec) != k ||
			len(st.rvec) != rk || !inRange(st.items, ni)) {
			r.fail("overlay of user %d", u)
			break
		}
		m.overlay.store(m.users.ID(int32(u)), st, true)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	for u := range nu {
		if u >= m.seen.rows && m.overlay.load(m.users.ID(int32(u))) == nil {
			return nil, fmt.Errorf("%w: user %d has no state", ErrCorrupt, u)
		}
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	m.deriveGrams()
	m.kern.Store(m.buildKernel()) // off the request path: readers decode, then swap
	return m, nil
}

// increasing reports whether ids are strictly increasing and within 0..n-1.
func increasing(ids []int32, n int) bool {
	for j, i := range ids {
		if i < 0 || int(i) >= n || (j > 0 && ids[j-1] >= i) {
			return false
		}
	}
	return true
}

// sortedRows reports whether every row's columns strictly increase.
func sortedRows(c *csr) bool {
	for r := 0; r < c.rows; r++ {
		idx, _ := c.row(r)
		for j := 1; j < len(idx); j++ {
			if idx[j-1] >= idx[j] {
				return false
			}
		}
	}
	return true
}

func inRange(idx []int32, n int) bool {
	for _, i := range idx {
		if i < 0 || int(i) >= n {
			return false
		}
	}
	return true
}

// writer encodes a snapshot or delta body; elementwise writes arrays one
// number at a time even where the machine's layout matches (tests).
type writer struct {
	buf         *bytes.Buffer
	elementwise bool
}

func (w *writer) uv(v uint64)  { w.buf.Write(binary.AppendUvarint(nil, v)) }
func (w *writer) u16(v uint16) { w.buf.Write(binary.LittleEndian.AppendUint16(nil, v)) }
func (w *writer) i64(v int64)  { w.buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(v))) }
func (w *writer) f64(v float64) {
	w.buf.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
}
func (w *writer) f32(v float32) {
	w.buf.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
}
func (w *writer) bytes(b []byte) { w.uv(uint64(len(b))); w.buf.Write(b) }
func (w *writer) str(s string)   { w.uv(uint64(len(s))); w.buf.WriteString(s) }
func (w *writer) strings(ss []string) {
	w.uv(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}
func (w *writer) f64s(v []float64) { writeArray(w, v, w.f64) }
func (w *writer) f32s(v []float32) { writeArray(w, v, w.f32) }
func (w *writer) i32s(v []int32) {
	writeArray(w, v, func(x int32) { w.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(x))) })
}
func (w *writer) i64s(v []int64) { writeArray(w, v, w.i64) }
func (w *writer) csr(c *csr) {
	w.uv(uint64(c.rows))
	w.uv(uint64(c.cols))
	w.i64s(c.ptr)
	w.i32s(c.idx)
	w.f32s(c.val)
}

// reader decodes a snapshot body. After the first error every method
// returns zero values, so decoding code reads straight through and checks
// r.err once.
type reader struct {
	b   []byte
	err error
	// elementwise reads arrays one number at a time even where the
	// machine's layout matches (tests).
	elementwise bool
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uv() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a slice length and checks that size bytes per element remain.
func (r *reader) count(size uint64) uint64 {
	n := r.uv()
	if r.err == nil && n > uint64(len(r.b))/size {
		r.fail("length %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return n
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (r *reader) i64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}
func (r *reader) f64() float64 { return math.Float64frombits(uint64(r.i64())) }
func (r *reader) f32() float32 {
	if b := r.take(4); b != nil {
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	}
	return 0
}
func (r *reader) bytes() []byte { return r.take(r.count(1)) }
func (r *reader) str() string   { return string(r.bytes()) }
func (r *reader) strings() []string {
	n := r.count(1)
	out := make([]string, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		out = append(out, r.str())
	}
	return out
}
func (r *reader) f64s() []float64 { return readArray(r, 8, r.f64) }
func (r *reader) f32s() []float32 { return readArray(r, 4, r.f32) }
func (r *reader) i32s() []int32 {
	return readArray(r, 4, func() int32 { return int32(r.f32bits()) })
}
func (r *reader) f32bits() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (r *reader) i64s() []int64 { return readArray(r, 8, r.i64) }

func (r *reader) csr() *csr {
	c := &csr{rows: int(r.count(1)), cols: int(r.uv())}
	c.ptr, c.idx, c.val = r.i64s(), r.i32s(), r.f32s()
	if r.err != nil {
		return &csr{ptr: []int64{0}}
	}
	if c.cols < 0 || c.cols > math.MaxInt32 || len(c.ptr) != c.rows+1 || len(c.idx) != len(c.val) || c.ptr[0] != 0 ||
		c.ptr[c.rows] != int64(len(c.idx)) {
		r.fail("bad sparse matrix header")
		return &csr{ptr: []int64{0}}
	}
	for i := 0; i < c.rows; i++ {
		if c.ptr[i] > c.ptr[i+1] {
			r.fail("bad sparse matrix row %d", i)
			return &csr{ptr: []int64{0}}
		}
	}
	for _, col := range c.idx {
		if col < 0 || int(col) >= c.cols {
			r.fail("sparse column %d out of range", col)
			return &csr{ptr: []int64{0}}
		}
	}
	return c
}
