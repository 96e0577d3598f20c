package ratingstate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// baseWriter streams a base file into a temporary file and renames it into
// place when finished.
type baseWriter struct {
	f    *os.File
	fw   frameWriter
	path string
	meta baseMeta
	last rawEntry
}

// createBase starts writing the base file at path.
func createBase(path string, gen uint64) (*baseWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w := &baseWriter{f: f, path: path, fw: frameWriter{w: bufio.NewWriterSize(f, 1<<20)}, last: rawEntry{u: -1}}
	if _, err := w.fw.w.Write(fileHeader(baseMagic, gen)); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

func (w *baseWriter) userID(id string) error {
	w.meta.users++
	return w.fw.add(frameUserIDs, func(b []byte) []byte { return appendID(b, id) })
}

func (w *baseWriter) movieID(id string) error {
	w.meta.movies++
	return w.fw.add(frameMovieIDs, func(b []byte) []byte { return appendID(b, id) })
}

func (w *baseWriter) position(p Position) error {
	return w.fw.add(framePositions, func(b []byte) []byte {
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Partition))
		return binary.LittleEndian.AppendUint64(b, uint64(p.Offset))
	})
}

// entry adds one entry; entries must come sorted by (user, movie).
func (w *baseWriter) entry(e rawEntry) error {
	if !w.last.less(e) {
		return fmt.Errorf("entry %d/%d after %d/%d: out of order", e.u, e.m, w.last.u, w.last.m)
	}
	w.last = e
	w.meta.entries++
	return w.fw.add(frameEntries, func(b []byte) []byte { return appendEntry(b, e.u, e.m, e.code, e.ts, e.eh) })
}

// finish writes the meta frame, fsyncs the file, renames it into place and
// fsyncs the directory: a crash at any point leaves either no base of this
// generation or a complete one.
func (w *baseWriter) finish(seq uint64, savedAt int64, hash Hash, offsets map[int32]int64) (int64, error) {
	w.meta.seq, w.meta.savedAt, w.meta.hash, w.meta.offsets = seq, savedAt, hash, offsets
	err := w.fw.flush()
	if err == nil {
		err = w.fw.add(frameMeta, w.meta.encode)
	}
	if err == nil {
		err = w.fw.flush()
	}
	if err == nil {
		err = w.fw.w.Flush()
	}
	if err != nil {
		w.abort()
		return 0, fmt.Errorf("write %s: %w", w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		w.abort()
		return 0, fmt.Errorf("fsync %s: %w", w.f.Name(), err)
	}
	size, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		w.abort()
		return 0, fmt.Errorf("size of %s: %w", w.f.Name(), err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name()) //nolint:errcheck // best effort
		return 0, fmt.Errorf("close %s: %w", w.f.Name(), err)
	}
	if err := os.Rename(w.f.Name(), w.path); err != nil {
		os.Remove(w.f.Name()) //nolint:errcheck // best effort
		return 0, err
	}
	return size, syncDir(filepath.Dir(w.path))
}

// abort removes the temporary file.
func (w *baseWriter) abort() {
	w.f.Close()           //nolint:errcheck // abandoned
	os.Remove(w.f.Name()) //nolint:errcheck // best effort; Open removes leftovers
}

// writeBase writes a view as the base file at path (a migration, or a full
// checkpoint); the caller keeps the view until it returns.
func writeBase(path string, gen uint64, v *View, seq uint64, savedAt int64, offsets map[int32]int64) (int64, error) {
	w, err := createBase(path, gen)
	if err != nil {
		return 0, err
	}
	for _, id := range v.userIDs {
		if err = w.userID(id); err != nil {
			break
		}
	}
	for i := 0; err == nil && i < len(v.movieIDs); i++ {
		err = w.movieID(v.movieIDs[i])
	}
	for u := 0; err == nil && u < len(v.users); u++ {
		err = w.position(v.users[u].pos)
	}
	if err == nil {
		v.eachRaw(func(e rawEntry) bool {
			err = w.entry(e)
			return err == nil
		})
	}
	if err != nil {
		w.abort()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return w.finish(seq, savedAt, v.hash, offsets)
}

// eachRaw is Each with value codes.
func (v *View) eachRaw(fn func(rawEntry) bool) {
	for u := range v.users {
		b, n, ord := v.user(u)
		for j := range n {
			i := slot(ord, j)
			if !fn(rawEntry{u: int32(u), m: movieOf(b.mv[i]), code: codeOf(b.mv[i]), ts: b.ts[i], eh: b.eh[i]}) {
				return
			}
		}
	}
}

// baseReader reads a base file: its tables at open, then its entries one by
// one, then its meta frame.
type baseReader struct {
	f        *os.File
	fr       frameReader
	userIDs  []string
	movieIDs []string
	pos      []Position
	ents     []byte // rest of the current entries frame
	pending  byte   // kind of a frame read ahead, 0 when none
	payload  []byte
	count    int
	meta     baseMeta
	n        uint64
	last     rawEntry
	done     bool
}

// openBase opens the base file at path and reads its ids and positions.
func openBase(path string, gen uint64) (*baseReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &baseReader{f: f, fr: frameReader{r: bufio.NewReaderSize(f, 1<<20), pos: fileHeaderSize}, last: rawEntry{u: -1}}
	var hb [fileHeaderSize]byte
	if _, err := io.ReadFull(r.fr.r, hb[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("file header: %w", errCorrupt)
	}
	if err := checkFileHeader(hb[:], baseMagic, gen); err != nil {
		f.Close()
		return nil, err
	}
	kind := byte(0)
	for {
		k, n, p, err := r.fr.next()
		if err == io.EOF {
			err = fmt.Errorf("no meta frame: %w", errCorrupt)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		if k < kind || k > frameMeta || k == 0 {
			f.Close()
			return nil, fmt.Errorf("frame of kind %d after kind %d: %w", k, kind, errCorrupt)
		}
		kind = k
		switch k {
		case frameUserIDs, frameMovieIDs:
			dst := &r.userIDs
			if k == frameMovieIDs {
				dst = &r.movieIDs
			}
			var rest []byte
			if *dst, rest, err = readIDs(p, n, *dst); err == nil && len(rest) != 0 {
				err = fmt.Errorf("%d bytes after the ids of a frame: %w", len(rest), errCorrupt)
			}
		case framePositions:
			if n*basePosSize != len(p) {
				err = fmt.Errorf("positions frame of %d bytes for %d positions: %w", len(p), n, errCorrupt)
				break
			}
			for i := range n {
				b := p[i*basePosSize:]
				r.pos = append(r.pos, Position{Partition: int32(binary.LittleEndian.Uint32(b)),
					Offset: int64(binary.LittleEndian.Uint64(b[4:]))})
			}
		default:
			// Entries or meta: the tables are complete.
			r.pending, r.count = k, n
			r.payload = p
			if len(r.pos) != len(r.userIDs) {
				err = fmt.Errorf("%d positions for %d users: %w", len(r.pos), len(r.userIDs), errCorrupt)
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			return r, nil
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
}

// next returns the next entry; false after the last one, when the meta
// frame has been read and checked.
func (r *baseReader) next() (rawEntry, bool, error) {
	for len(r.ents) == 0 {
		if r.done {
			return rawEntry{}, false, nil
		}
		var k byte
		var n int
		var p []byte
		if r.pending != 0 {
			k, n, p, r.pending = r.pending, r.count, r.payload, 0
		} else {
			var err error
			if k, n, p, err = r.fr.next(); err != nil {
				if err == io.EOF {
					err = fmt.Errorf("no meta frame: %w", errCorrupt)
				}
				return rawEntry{}, false, err
			}
		}
		switch k {
		case frameEntries:
			if n*entrySize != len(p) {
				return rawEntry{}, false, fmt.Errorf("entries frame of %d bytes for %d entries: %w", len(p), n, errCorrupt)
			}
			r.ents = p
		case frameMeta:
			if err := r.finishMeta(p); err != nil {
				return rawEntry{}, false, err
			}
			return rawEntry{}, false, nil
		default:
			return rawEntry{}, false, fmt.Errorf("frame of kind %d among the entries: %w", k, errCorrupt)
		}
	}
	e := decodeEntry(r.ents)
	r.ents = r.ents[entrySize:]
	if !r.last.less(e) || e.u < 0 || int(e.u) >= len(r.userIDs) || e.m < 0 || int(e.m) >= len(r.movieIDs) || e.code > maxCode {
		return rawEntry{}, false, fmt.Errorf("entry %d (user %d, movie %d, value code %d): out of order or range: %w",
			r.n, e.u, e.m, e.code, errCorrupt)
	}
	r.last = e
	r.n++
	return e, true, nil
}

// finishMeta checks the meta frame against what was read, and that nothing
// follows it.
func (r *baseReader) finishMeta(p []byte) error {
	m, err := decodeMeta(p)
	if err != nil {
		return err
	}
	if m.users != uint64(len(r.userIDs)) || m.movies != uint64(len(r.movieIDs)) || m.entries != r.n {
		return fmt.Errorf("meta says %d users, %d movies, %d entries; the file holds %d, %d, %d: %w",
			m.users, m.movies, m.entries, len(r.userIDs), len(r.movieIDs), r.n, errCorrupt)
	}
	if _, err := r.fr.r.ReadByte(); err == nil {
		return fmt.Errorf("bytes after the meta frame: %w", errCorrupt)
	}
	r.meta, r.done = m, true
	return nil
}

func (r *baseReader) close() { r.f.Close() } //nolint:errcheck // read-only

// loadBase reads the base file at path into a new state.
func loadBase(path string, gen uint64) (*State, baseMeta, error) {
	r, err := openBase(path, gen)
	if err != nil {
		return nil, baseMeta{}, fmt.Errorf("read %s: %w", path, err)
	}
	defer r.close()
	s := New()
	s.userIDs, s.movieIDs = r.userIDs, r.movieIDs
	s.userIdx = make(map[string]int32, len(r.userIDs))
	for i, id := range r.userIDs {
		s.userIdx[id] = int32(i)
	}
	s.movieIdx = make(map[string]int32, len(r.movieIDs))
	for i, id := range r.movieIDs {
		s.movieIdx[id] = int32(i)
	}
	if len(s.userIdx) != len(s.userIDs) || len(s.movieIdx) != len(s.movieIDs) {
		return nil, baseMeta{}, fmt.Errorf("read %s: duplicate ids: %w", path, errCorrupt)
	}
	s.users = make([]user, len(r.userIDs))
	for u := range s.users {
		s.users[u] = user{pos: r.pos[u], epoch: s.epoch}
	}
	r.pos = nil
	// Entries come by user, sorted by movie: gather each user's and give
	// them a block of exactly their size.
	var run []rawEntry
	flush := func() {
		if len(run) == 0 {
			return
		}
		ur := &s.users[run[0].u]
		ur.blk = newBlock(len(run))
		b := viewBlock(ur.blk)
		for i, e := range run {
			b.mv[i], b.ts[i], b.eh[i] = packMV(e.m, e.code), e.ts, e.eh
		}
		ur.n, ur.sorted = int32(len(run)), int32(len(run))
		s.n += len(run)
		run = run[:0]
	}
	for {
		e, ok, err := r.next()
		if err != nil {
			return nil, baseMeta{}, fmt.Errorf("read %s: %w", path, err)
		}
		if !ok {
			break
		}
		if len(run) > 0 && run[0].u != e.u {
			flush()
		}
		run = append(run, e)
	}
	flush()
	s.buildRaters()
	s.sum = sumOf(r.meta.hash)
	return s, r.meta, nil
}

// buildRaters fills the raters of every movie from the users' blocks, each
// array allocated at its exact size, sorted by user index.
func (s *State) buildRaters() {
	counts := make([]int32, len(s.movieIDs))
	for u := range s.users {
		ur := &s.users[u]
		b := viewBlock(ur.blk)
		for _, mv := range b.mv[:ur.n] {
			counts[movieOf(mv)]++
		}
	}
	s.raters = make([][]int32, len(s.movieIDs))
	for m, c := range counts {
		s.raters[m] = make([]int32, 0, c)
	}
	for u := range s.users {
		ur := &s.users[u]
		b := viewBlock(ur.blk)
		for _, mv := range b.mv[:ur.n] {
			m := movieOf(mv)
			s.raters[m] = append(s.raters[m], int32(u))
		}
	}
}

// syncDir fsyncs a directory, so that the names created or renamed in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
