package ratingstate

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"os"
)

// compactJob merges a base (gen 0: none) and the logs of gens logs[0]..
// into the base of generation out.
type compactJob struct {
	base uint64
	logs []uint64
	out  uint64
	// bytes and segments of the logs, for the store's accounting
	bytes    int64
	segments int
}

// mergeRun is one sorted run of entries in a merge: the base or one
// segment's entries.
type mergeRun struct {
	cur  rawEntry
	next func() (bool, error)
	src  int // 0 for the base, then segments in order
}

type runHeap []*mergeRun

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	a, b := h[i].cur, h[j].cur
	if a.u != b.u || a.m != b.m {
		return a.less(b)
	}
	return h[i].src < h[j].src
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*mergeRun)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// compact writes the merge of job's base and logs as a new base file and
// returns its size. It streams: the entries are never all in memory, only
// the id tables, the users' positions and one read buffer per segment.
func (st *Store) compact(ctx context.Context, job compactJob) (int64, error) {
	var (
		userIDs, movieIDs []string
		positions         []Position
		bmeta             baseMeta // the base's, read at the end of its entries
		runs              []*mergeRun
	)
	if job.base > 0 {
		br, err := openBase(st.basePath(job.base), job.base)
		if err != nil {
			return 0, fmt.Errorf("compact: read %s: %w", st.basePath(job.base), err)
		}
		defer br.close()
		userIDs, movieIDs, positions = br.userIDs, br.movieIDs, br.pos
		run := &mergeRun{src: 0}
		run.next = func() (bool, error) {
			e, ok, err := br.next()
			run.cur = e
			if err != nil {
				return false, fmt.Errorf("read %s: %w", st.basePath(job.base), err)
			}
			if !ok {
				bmeta = br.meta
			}
			return ok, nil
		}
		runs = append(runs, run)
	}
	// The segments are checked (both checksums) and their small sections
	// read before the merge; their entries are read during it.
	var (
		firstSeq, seq uint64
		last          *segment
		lastOffsets   map[int32]int64
	)
	for _, g := range job.logs {
		path := st.logPath(g)
		f, err := os.Open(path)
		if err != nil {
			return 0, fmt.Errorf("compact: %w", err)
		}
		defer f.Close()
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, fmt.Errorf("compact: size of %s: %w", path, err)
		}
		var hb [fileHeaderSize]byte
		if _, err := f.ReadAt(hb[:], 0); err != nil {
			return 0, fmt.Errorf("compact: read %s: %w", path, err)
		}
		if err := checkFileHeader(hb[:], logMagic, g); err != nil {
			return 0, fmt.Errorf("compact: read %s: %w", path, err)
		}
		for off := int64(fileHeaderSize); off < size; {
			sg, err := checkSegment(f, off, size)
			if err != nil {
				return 0, fmt.Errorf("compact: read %s: %w", path, err)
			}
			if firstSeq == 0 {
				firstSeq = sg.h.seq
			} else if sg.h.seq != seq+1 {
				return 0, fmt.Errorf("compact: read %s: segment %d where %d was due: %w", path, sg.h.seq, seq+1, errCorrupt)
			}
			p, err := readSegmentPayload(f, sg)
			if err != nil {
				return 0, fmt.Errorf("compact: read %s: %w", path, err)
			}
			if int(sg.h.firstUser) != len(userIDs) || int(sg.h.firstMovie) != len(movieIDs) {
				return 0, fmt.Errorf("compact: read %s: segment %d: ids start at %d/%d, the tables hold %d/%d: %w",
					path, sg.h.seq, sg.h.firstUser, sg.h.firstMovie, len(userIDs), len(movieIDs), errCorrupt)
			}
			userIDs = append(userIDs, p.userIDs...)
			movieIDs = append(movieIDs, p.movieIDs...)
			for range p.userIDs {
				positions = append(positions, NoPosition)
			}
			for _, up := range p.positions {
				if up.user < 0 || int(up.user) >= len(positions) {
					return 0, fmt.Errorf("compact: read %s: segment %d: position of user %d: %w", path, sg.h.seq, up.user, errCorrupt)
				}
				positions[up.user] = up.pos
			}
			seq, lastOffsets = sg.h.seq, p.offsets
			sgCopy := sg
			last = &sgCopy
			if sg.h.entries > 0 {
				// Source 0 is the base's, even when there is none.
				c := newEntryCursor(f, sg.entriesOff(), sg.h.entries, 32<<10)
				run := &mergeRun{src: len(runs) + 1}
				last := rawEntry{u: -1}
				run.next = func() (bool, error) {
					ok, err := c.next()
					if err != nil || !ok {
						return ok, err
					}
					e := c.cur
					if !last.less(e) || int(e.u) >= len(userIDs) || int(e.m) >= len(movieIDs) || e.m < 0 || e.code > maxCode {
						return false, fmt.Errorf("read %s: segment %d: entry (user %d, movie %d): out of order or range: %w",
							path, sg.h.seq, e.u, e.m, errCorrupt)
					}
					last, run.cur = e, e
					return true, nil
				}
				runs = append(runs, run)
			}
			off = sg.end()
		}
	}
	w, err := createBase(st.basePath(job.out), job.out)
	if err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	fail := func(err error) (int64, error) {
		w.abort()
		return 0, fmt.Errorf("compact into %s: %w", st.basePath(job.out), err)
	}
	for _, id := range userIDs {
		if err := w.userID(id); err != nil {
			return fail(err)
		}
	}
	for _, id := range movieIDs {
		if err := w.movieID(id); err != nil {
			return fail(err)
		}
	}
	for _, p := range positions {
		if err := w.position(p); err != nil {
			return fail(err)
		}
	}
	h := make(runHeap, 0, len(runs))
	for _, r := range runs {
		ok, err := r.next()
		if err != nil {
			return fail(err)
		}
		if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	// The new base's hash is the old base's plus, for each pair a segment
	// changed, the new entry's digest minus the old one's: O(changes). The
	// base's hash is in its meta frame, read last; the sum waits for it.
	var hash sum
	for n := 0; h.Len() > 0; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return fail(ctx.Err())
		}
		e, fromBase := h[0].cur, h[0].src == 0
		old := e
		// Take every run's entry for this pair; the newest wins.
		for h.Len() > 0 && h[0].cur.u == old.u && h[0].cur.m == old.m {
			r := h[0]
			if newer(r.cur.ts, r.cur.eh, e.ts, e.eh) {
				e = r.cur
			}
			ok, err := r.next()
			if err != nil {
				return fail(err)
			}
			if ok {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
		if !fromBase {
			hash.add(entryDigest(userIDs[e.u], movieIDs[e.m], e.code, e.ts, e.eh))
		} else if e != old {
			hash.sub(entryDigest(userIDs[e.u], movieIDs[e.m], old.code, old.ts, old.eh))
			hash.add(entryDigest(userIDs[e.u], movieIDs[e.m], e.code, e.ts, e.eh))
		}
		if err := w.entry(e); err != nil {
			return fail(err)
		}
	}
	if job.base > 0 {
		hash.add(sumOf(bmeta.hash))
	}
	seq, savedAt, offsets, want := bmeta.seq, bmeta.savedAt, bmeta.offsets, hash
	if last != nil {
		if firstSeq != bmeta.seq+1 {
			return fail(fmt.Errorf("the first segment is %d, the base covers up to %d: %w", firstSeq, bmeta.seq, errCorrupt))
		}
		seq, savedAt, offsets, want = last.h.seq, last.h.savedAt, lastOffsets, sumOf(last.h.hash)
		if last.h.pairs != w.meta.entries {
			return fail(fmt.Errorf("the merge holds %d pairs; the last segment says %d: %w", w.meta.entries, last.h.pairs, errCorrupt))
		}
	}
	if hash != want {
		return fail(fmt.Errorf("the merge hashes to %s; the last segment says %s: %w", hash.hash(), want.hash(), errCorrupt))
	}
	if offsets == nil {
		offsets = map[int32]int64{}
	}
	size, err := w.finish(seq, savedAt, hash.hash(), offsets)
	if err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	return size, nil
}
