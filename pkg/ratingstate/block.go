package ratingstate

import (
	"math/bits"
	"slices"
	"unsafe"
)

// A user's entries live in one pointer-free block of 64-bit words, as three
// columns of the block's capacity c:
//
//	[0, c)        event times (int64, Unix ns)
//	[c, 2c)       event hashes
//	[2c, 2c+c/2)  movie index << 4 | value code, as uint32s
//
// 20 bytes per entry, one allocation per user, nothing for the garbage
// collector to scan. The first `sorted` entries are sorted by movie index;
// the rest (at most tailMax of them) are in order of arrival and are merged
// into the sorted part when there are too many, so a lookup is a binary
// search plus a short scan, and an insert costs O(sqrt n) moves amortised
// rather than the O(n) of keeping everything sorted.

// blockWords is the number of words a block of capacity c needs.
func blockWords(c int) int { return 2*c + (c+1)/2 }

// blockCap is the capacity of a block of w words.
func blockCap(w int) int {
	c := 2 * w / 5
	for blockWords(c+1) <= w {
		c++
	}
	for c > 0 && blockWords(c) > w {
		c--
	}
	return c
}

// ublock is a view of one user's block.
type ublock struct {
	ts  []int64
	eh  []uint64
	mv  []uint32
	cap int
}

func viewBlock(b []uint64) ublock {
	c := blockCap(len(b))
	if c == 0 {
		return ublock{}
	}
	return ublock{
		ts:  unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), c),
		eh:  b[c : 2*c : 2*c],
		mv:  unsafe.Slice((*uint32)(unsafe.Pointer(&b[2*c])), c),
		cap: c,
	}
}

// newBlock allocates a block that holds at least c entries, using whatever
// the allocator's size class rounds up to.
func newBlock(c int) []uint64 {
	b := slices.Grow([]uint64(nil), blockWords(c))
	return b[:cap(b)]
}

// growCap is the capacity after c: +25% (at least 4 more), which keeps the
// unused tail of blocks around 12% on average instead of the 40% of doubling.
func growCap(c int) int { return c + max(4, c/4) }

// tailMax is how many unsorted entries a user with n entries may have
// before they are merged into the sorted part: about sqrt(n).
func tailMax(n int) int {
	return max(8, 1<<(bits.Len(uint(n))/2))
}

// packMV packs a movie index and a value code.
func packMV(m int32, code uint8) uint32 { return uint32(m)<<codeBits | uint32(code) }

// movieOf and codeOf unpack a packed movie/value.
func movieOf(mv uint32) int32 { return int32(mv >> codeBits) }
func codeOf(mv uint32) uint8  { return uint8(mv & (1<<codeBits - 1)) }

// find returns the position of movie m among the first n entries of b (the
// first sorted of them sorted), or -1.
func (b ublock) find(m int32, n, sorted int) int {
	key := uint32(m) << codeBits
	lo, hi := 0, sorted
	mv := b.mv
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if mv[h] < key {
			lo = h + 1
		} else {
			hi = h
		}
	}
	if lo < sorted && mv[lo]>>codeBits == uint32(m) {
		return lo
	}
	for j := sorted; j < n; j++ {
		if mv[j]>>codeBits == uint32(m) {
			return j
		}
	}
	return -1
}

// tailEntry is one entry while a tail is sorted and merged.
type tailEntry struct {
	mv uint32
	ts int64
	eh uint64
}

// merge sorts the tail [sorted, n) of b and merges it into the sorted part,
// in place, using scratch for the tail. It returns the (possibly grown)
// scratch.
func (b ublock) merge(n, sorted int, scratch []tailEntry) []tailEntry {
	t := scratch[:0]
	for j := sorted; j < n; j++ {
		t = append(t, tailEntry{b.mv[j], b.ts[j], b.eh[j]})
	}
	slices.SortFunc(t, func(x, y tailEntry) int { return int(x.mv>>codeBits) - int(y.mv>>codeBits) })
	i, j, k := sorted-1, len(t)-1, n-1
	for j >= 0 {
		if i >= 0 && b.mv[i] > t[j].mv {
			b.mv[k], b.ts[k], b.eh[k] = b.mv[i], b.ts[i], b.eh[i]
			i--
		} else {
			b.mv[k], b.ts[k], b.eh[k] = t[j].mv, t[j].ts, t[j].eh
			j--
		}
		k--
	}
	return t
}

// order returns the positions of the first n entries of b in movie order
// (in out, reused), or nil when they are in order already (sorted == n).
// tail is scratch for the unsorted tail's order; both are returned for
// reuse.
func (b ublock) order(n, sorted int, tail, out []int32) (order, tailBuf, outBuf []int32) {
	if sorted == n {
		return nil, tail, out
	}
	t := tail[:0]
	for j := sorted; j < n; j++ {
		t = append(t, int32(j))
	}
	slices.SortFunc(t, func(x, y int32) int { return int(b.mv[x]>>codeBits) - int(b.mv[y]>>codeBits) })
	o := out[:0]
	i, j := 0, 0
	for i < sorted || j < len(t) {
		if j == len(t) || (i < sorted && b.mv[i] < b.mv[t[j]]) {
			o = append(o, int32(i))
			i++
		} else {
			o = append(o, t[j])
			j++
		}
	}
	return o, t, o
}

// orderScratch is the reusable scratch of order, one per state and per view.
type orderScratch struct{ out, tail []int32 }

// entries returns the block blk holds, its entry count n and, when some
// entries are not in movie order (sorted < n), the order to read them in
// (nil when they all are; valid until the next call).
func (o *orderScratch) entries(blk []uint64, n, sorted int32) (ublock, int, []int32) {
	b := viewBlock(blk)
	var ord []int32
	ord, o.tail, o.out = b.order(int(n), int(sorted), o.tail, o.out)
	return b, int(n), ord
}

// slot is where in its block a user's j-th entry in movie order is, given
// the order entries returned.
func slot(ord []int32, j int) int {
	if ord == nil {
		return j
	}
	return int(ord[j])
}

// copyBlock copies the first n entries of src into a new block of capacity
// at least c.
func copyBlock(src ublock, n, c int) ([]uint64, ublock) {
	nb := newBlock(c)
	dst := viewBlock(nb)
	copy(dst.ts, src.ts[:n])
	copy(dst.eh, src.eh[:n])
	copy(dst.mv, src.mv[:n])
	return nb, dst
}
