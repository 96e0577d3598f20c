package recommend

import (
	"crypto/sha256"
	"encoding/binary"
	"unsafe"
)

// nativeLittleEndian is whether this machine lays out numbers as snapshots
// and deltas do (little-endian), so that their arrays move as bytes.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// number is an element type of the wire's fixed-size arrays.
type number interface {
	~int32 | ~int64 | ~float32 | ~float64
}

// asBytes is the memory of v as bytes, in this machine's layout.
func asBytes[T number](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(v[0])))
}

// byteStep bounds one call over an array's bytes (a copy, a write, a hash):
// such calls cannot be preempted, and a garbage collection that waits for
// one over hundreds of MiB stalls every other goroutine.
const byteStep = 1 << 20

// inSteps calls fn with b a step at a time, in order.
func inSteps(b []byte, fn func([]byte)) {
	for len(b) > 0 {
		n := min(len(b), byteStep)
		fn(b[:n])
		b = b[n:]
	}
}

// checksum is the sha256 of b.
func checksum(b []byte) []byte {
	h := sha256.New()
	inSteps(b, func(p []byte) { h.Write(p) })
	return h.Sum(nil)
}

// writeArray appends v's length and elements: as one block of bytes on a
// little-endian machine, else element by element with one.
func writeArray[T number](w *writer, v []T, one func(T)) {
	w.uv(uint64(len(v)))
	if nativeLittleEndian && !w.elementwise {
		inSteps(asBytes(v), func(p []byte) { w.buf.Write(p) })
		return
	}
	for _, x := range v {
		one(x)
	}
}

// readArray reads a length-prefixed array of size-byte elements (the
// length checked against the bytes left before anything is allocated): as
// one block of bytes on a little-endian machine, else element by element
// with one.
func readArray[T number](r *reader, size uint64, one func() T) []T {
	n := r.count(size)
	out := make([]T, n)
	if nativeLittleEndian && !r.elementwise {
		if b := r.take(n * size); b != nil {
			dst := asBytes(out)
			inSteps(b, func(p []byte) { dst = dst[copy(dst, p):] })
		}
		return out
	}
	for i := range out {
		out[i] = one()
	}
	return out
}

// snapshotSizeHint is about the size of the model's snapshot, a little
// more: the encoder sizes its buffer from it once, where growing it by
// doubling cleared and copied up to twice the snapshot at the trainer's
// peak. The large arrays count exactly, ids and movie texts roughly.
func (m *Model) snapshotSizeHint() int {
	return m.arrayBytes() + 64*(m.users.Len()+m.items.Len()) + 1<<16
}

// arrayBytes is what the model's large arrays take in a snapshot.
func (m *Model) arrayBytes() int {
	n := 8*len(m.sigma) + 4*(len(m.v)+len(m.userVec)) + csrBytes(m.seen) + csrBytes(m.knn) + csrBytes(m.content.vecs) +
		4*len(m.content.idf) + 4*len(m.popularity)
	if e := m.ease; e != nil {
		n += 4 * (len(e.ids) + len(e.b))
	}
	if rm := m.rating; rm != nil {
		n += 4 * (len(rm.p) + len(rm.q) + len(rm.bu) + len(rm.bi))
		if nb := rm.nbr; nb != nil {
			n += 4*(len(nb.bi)+len(nb.li)) + csrBytes(nb.nb)
		}
	}
	return n
}

func csrBytes(c *csr) int {
	if c == nil {
		return 0
	}
	return 8*len(c.ptr) + 4*(len(c.idx)+len(c.val))
}
