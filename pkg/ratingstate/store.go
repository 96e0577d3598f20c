package ratingstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrCorrupt is wrapped by the errors of Open for a checkpoint it refuses:
// a corrupt base, a corrupt segment followed by valid ones, a missing file.
// Removing the directory makes the trainer rebuild its state from Kafka.
var ErrCorrupt = errors.New("checkpoint corrupt")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("checkpoint store closed")

// Options tune a Store. The zero value works.
type Options struct {
	// Logger gets the store's events (a torn segment ignored, a
	// compaction, a migration); nil discards them.
	Logger *slog.Logger
	// LegacyJSON is the path of the trainer's format-1 JSON checkpoint
	// (checkpoint.json). When the directory holds no checkpoint yet and
	// this file exists, Open migrates it once and renames it to
	// LegacyJSON+".migrated". Its leftover temporary files
	// (LegacyJSON+".tmp-*") are removed either way.
	LegacyJSON string
	// CompactRatio and CompactMinBytes: a compaction starts after an
	// append when the logs hold more than CompactRatio times the base's
	// bytes and more than CompactMinBytes (defaults 0.5 and 64 MiB), or
	// more than CompactMaxSegments segments (default 1024).
	CompactRatio       float64
	CompactMinBytes    int64
	CompactMaxSegments int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CompactRatio <= 0 {
		o.CompactRatio = 0.5
	}
	if o.CompactMinBytes <= 0 {
		o.CompactMinBytes = 64 << 20
	}
	if o.CompactMaxSegments <= 0 {
		o.CompactMaxSegments = 1024
	}
	return o
}

// Loaded is what Open read.
type Loaded struct {
	// State is the rating state, tracking its changes for TakeDelta.
	State *State
	// Offsets maps each partition to the next offset the state does not
	// cover: where consuming resumes.
	Offsets map[int32]int64
	// SavedAt is the SavedAt of the last delta (or migration) loaded, Unix
	// ns; 0 for a new checkpoint.
	SavedAt int64
	// Segments is the number of log segments replayed on the base.
	Segments int
	// TornBytes is the size of a torn last segment that was ignored
	// (and truncated); 0 normally.
	TornBytes int64
	// Migrated is true when the state came from the legacy JSON file.
	Migrated bool
}

// Store is the binary, incremental checkpoint of a rating state, in one
// directory: a base file holding a whole state and a log of segments
// appended after it, each holding what changed since the previous one with
// the Kafka offsets it covers. A compaction in the background merges the
// base and the log into a new base, streaming (see docs/state.md).
//
// Append and Close may be called from any one goroutine at a time (the
// checkpoint writer's); the compaction runs in a goroutine the store owns
// and Close stops.
type Store struct {
	dir string
	opt Options
	log *slog.Logger

	ctx    context.Context // the compaction's; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	base        uint64 // generation of the base (0: none)
	baseBytes   int64
	logs        []uint64 // generations of the live logs, the last one active
	logBytes    int64    // bytes of the live logs' segments
	logSegments int
	active      *os.File
	activeSize  int64 // end of the last good segment of the active log
	damaged     bool  // the active log may hold a partial segment after activeSize
	seq         uint64
	users       int // ids written so far: the next delta's ids start there
	movies      int
	pending     *Delta // a delta whose append failed, retried with the next
	compacting  bool
	compDone    chan struct{} // closed when the running compaction ends
	compErr     error         // the last compaction's outcome
	skip        int           // appends to wait before retrying a failed compaction
	failures    int
}

// File names: state-<gen>.base and state-<gen>.log, gen in decimal with at
// least 6 digits.
func (st *Store) basePath(gen uint64) string {
	return filepath.Join(st.dir, fmt.Sprintf("state-%06d.base", gen))
}

func (st *Store) logPath(gen uint64) string {
	return filepath.Join(st.dir, fmt.Sprintf("state-%06d.log", gen))
}

// parseName returns the generation and kind ("base" or "log") of a
// checkpoint file name.
func parseName(name string) (uint64, string, bool) {
	rest, ok := strings.CutPrefix(name, "state-")
	if !ok {
		return 0, "", false
	}
	num, kind, ok := strings.Cut(rest, ".")
	if !ok || (kind != "base" && kind != "log") {
		return 0, "", false
	}
	g, err := strconv.ParseUint(num, 10, 64)
	if err != nil || g == 0 {
		return 0, "", false
	}
	return g, kind, true
}

// Open opens (creating it if needed) the checkpoint in dir and loads the
// state it holds. It removes leftover temporary files first. A torn last
// segment (a crash during an append) is logged, ignored and truncated: the
// offsets of the last good segment are what count, so its events are read
// again from Kafka. Anything else that does not check out is an error
// wrapping ErrCorrupt that names the file and the segment.
func Open(dir string, opt Options) (*Store, *Loaded, error) {
	opt = opt.withDefaults()
	st := &Store{dir: dir, opt: opt, log: opt.Logger.With("checkpoint", dir)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if err := st.removeTemps(); err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	bases, logs, err := st.list()
	if err != nil {
		return nil, nil, fmt.Errorf("open checkpoint: %w", err)
	}
	var ld *Loaded
	switch {
	case len(bases) == 0 && len(logs) == 0 && opt.LegacyJSON != "":
		if ld, err = st.migrate(); err != nil {
			st.closeActive()
			return nil, nil, err
		}
	case opt.LegacyJSON != "":
		if _, err := os.Stat(opt.LegacyJSON); err == nil {
			st.log.Warn("legacy JSON checkpoint ignored: the directory holds a checkpoint already; remove the file",
				"path", opt.LegacyJSON)
		}
	}
	if ld == nil {
		if ld, err = st.load(bases, logs); err != nil {
			st.closeActive()
			return nil, nil, err
		}
	}
	if st.active == nil {
		// No log after the base yet (a new checkpoint, or a crash between
		// a migration's base and its log).
		if err := st.createLog(max(st.base, 1)); err != nil {
			return nil, nil, fmt.Errorf("open checkpoint: %w", err)
		}
	}
	st.removeStale()
	s := ld.State
	s.track, s.savedUsers, s.savedMovies = true, len(s.userIDs), len(s.movieIDs)
	st.users, st.movies = len(s.userIDs), len(s.movieIDs)
	st.ctx, st.cancel = context.WithCancel(context.Background())
	return st, ld, nil
}

// removeTemps removes the temporary files a crash may have left: this
// package's (*.tmp-*) and the legacy JSON writer's.
func (st *Store) removeTemps() error {
	patterns := []string{filepath.Join(st.dir, "*.tmp-*")}
	if st.opt.LegacyJSON != "" {
		patterns = append(patterns, st.opt.LegacyJSON+".tmp-*")
	}
	for _, p := range patterns {
		names, err := filepath.Glob(p)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			st.log.Info("removed a leftover temporary file", "path", n)
		}
	}
	return nil
}

// list returns the generations of the base and log files, ascending.
func (st *Store) list() (bases, logs []uint64, err error) {
	ents, err := os.ReadDir(st.dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		g, kind, ok := parseName(e.Name())
		switch {
		case !ok:
		case kind == "base":
			bases = append(bases, g)
		default:
			logs = append(logs, g)
		}
	}
	slices.Sort(bases)
	slices.Sort(logs)
	return bases, logs, nil
}

// load reads the newest base and replays the logs after it.
func (st *Store) load(bases, logs []uint64) (*Loaded, error) {
	ld := &Loaded{State: New(), Offsets: map[int32]int64{}}
	if len(bases) > 0 {
		st.base = bases[len(bases)-1]
		s, meta, err := loadBase(st.basePath(st.base), st.base)
		if err != nil {
			return nil, fmt.Errorf("open checkpoint: %w", corrupt(err))
		}
		ld.State, ld.Offsets, ld.SavedAt, st.seq = s, meta.offsets, meta.savedAt, meta.seq
		if fi, err := os.Stat(st.basePath(st.base)); err == nil {
			st.baseBytes = fi.Size()
		}
	}
	// The base of gen g covers the logs before g; the logs from g on must
	// follow one another.
	first := max(st.base, 1)
	var live []uint64
	for _, g := range logs {
		if g >= first {
			live = append(live, g)
		}
	}
	for i, g := range live {
		if g != first+uint64(i) {
			return nil, fmt.Errorf("open checkpoint: %s is missing (found %s): %w", st.logPath(first+uint64(i)), st.logPath(g), ErrCorrupt)
		}
	}
	for i, g := range live {
		if err := st.replayLog(ld, g, i == len(live)-1); err != nil {
			return nil, err
		}
	}
	return ld, nil
}

// corrupt makes an integrity error wrap ErrCorrupt.
func corrupt(err error) error {
	if errors.Is(err, errCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// replayLog applies the segments of log g to ld.State. In the last log, a
// bad segment with no valid segment after it is a torn append: it is
// logged, ignored and truncated, and that log becomes the active one.
func (st *Store) replayLog(ld *Loaded, g uint64, last bool) error {
	path := st.logPath(g)
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("open checkpoint: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("open checkpoint: size of %s: %w", path, err)
	}
	st.logs = append(st.logs, g)
	var hb [fileHeaderSize]byte
	_, herr := f.ReadAt(hb[:], 0)
	if herr == nil {
		herr = checkFileHeader(hb[:], logMagic, g)
	}
	if herr != nil {
		// A log is created with its header and fsynced before any
		// segment goes in: a bad header is a crash right after the
		// creation, if nothing valid follows.
		if !last || laterSegment(f, 0, size) {
			return fmt.Errorf("open checkpoint: %s: %w", path, corrupt(herr))
		}
		st.log.Warn("checkpoint log has a torn header; rewriting it", "path", path, "bytes", size, "err", herr)
		ld.TornBytes = size
		if err := st.resetLog(f, g); err != nil {
			return fmt.Errorf("open checkpoint: %w", err)
		}
		keep = true
		st.active, st.activeSize = f, fileHeaderSize
		return nil
	}
	off := int64(fileHeaderSize)
	for n := 0; off < size; n++ {
		sg, err := checkSegment(f, off, size)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				return fmt.Errorf("open checkpoint: %s: %w", path, err)
			}
			if last && !laterSegment(f, off+1, size) {
				st.log.Warn("checkpoint: ignoring a torn last segment; its events are read again from Kafka",
					"path", path, "segment", n, "byte", off, "bytes", size-off, "err", err)
				ld.TornBytes = size - off
				if err := f.Truncate(off); err != nil {
					return fmt.Errorf("open checkpoint: truncate %s: %w", path, err)
				}
				if err := f.Sync(); err != nil {
					return fmt.Errorf("open checkpoint: fsync %s: %w", path, err)
				}
				break
			}
			return fmt.Errorf("open checkpoint: %s: segment %d (seq %d) at byte %d is corrupt and valid segments follow it: %w",
				path, n, st.seq+1, off, corrupt(err))
		}
		if sg.h.seq != st.seq+1 {
			return fmt.Errorf("open checkpoint: %s: segment %d at byte %d has seq %d where %d was due: %w",
				path, n, off, sg.h.seq, st.seq+1, ErrCorrupt)
		}
		offsets, err := applySegment(ld.State, f, sg)
		if err != nil {
			return fmt.Errorf("open checkpoint: %s: segment %d (seq %d) at byte %d: %w", path, n, sg.h.seq, off, corrupt(err))
		}
		ld.Offsets, ld.SavedAt = offsets, sg.h.savedAt
		ld.Segments++
		st.seq = sg.h.seq
		st.logSegments++
		st.logBytes += sg.end() - sg.off
		off = sg.end()
	}
	if last {
		keep = true
		st.active, st.activeSize = f, off
	}
	return nil
}

// applySegment replays a checked segment on s, checks that s then holds
// the pair count and content hash the segment recorded, and returns the
// segment's offsets.
func applySegment(s *State, f io.ReaderAt, sg segment) (map[int32]int64, error) {
	p, err := readSegmentPayload(f, sg)
	if err != nil {
		return nil, err
	}
	if err := applyPayload(s, f, sg, p); err != nil {
		return nil, err
	}
	return p.offsets, nil
}

func applyPayload(s *State, f io.ReaderAt, sg segment, p segmentPayload) error {
	if int(sg.h.firstUser) != len(s.userIDs) || int(sg.h.firstMovie) != len(s.movieIDs) {
		return fmt.Errorf("ids start at %d/%d, the tables hold %d/%d: %w",
			sg.h.firstUser, sg.h.firstMovie, len(s.userIDs), len(s.movieIDs), errCorrupt)
	}
	for _, id := range p.userIDs {
		if _, dup := s.userIdx[id]; dup {
			return fmt.Errorf("user id %q twice: %w", id, errCorrupt)
		}
		s.addUser(id, NoPosition)
	}
	for _, id := range p.movieIDs {
		if _, dup := s.movieIdx[id]; dup {
			return fmt.Errorf("movie id %q twice: %w", id, errCorrupt)
		}
		s.addMovie(id)
	}
	c := newEntryCursor(f, sg.entriesOff(), sg.h.entries, 256<<10)
	for {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		e := c.cur
		if e.u < 0 || int(e.u) >= len(s.users) || e.m < 0 || int(e.m) >= len(s.movieIDs) || e.code > maxCode {
			return fmt.Errorf("entry (user %d, movie %d, value code %d) out of range: %w", e.u, e.m, e.code, errCorrupt)
		}
		s.set(e.u, e.m, e.code, e.ts, e.eh)
	}
	for _, up := range p.positions {
		if up.user < 0 || int(up.user) >= len(s.users) {
			return fmt.Errorf("position of user %d out of range: %w", up.user, errCorrupt)
		}
		s.users[up.user].pos = up.pos
	}
	if uint64(s.n) != sg.h.pairs || s.Hash() != sg.h.hash {
		return fmt.Errorf("replayed state holds %d pairs with hash %s; the segment recorded %d, %s: %w",
			s.n, s.Hash(), sg.h.pairs, sg.h.hash, errCorrupt)
	}
	return nil
}

// createLog creates log g (header fsynced, directory fsynced) and makes it
// the active one.
func (st *Store) createLog(g uint64) error {
	f, err := os.OpenFile(st.logPath(g), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := st.resetLog(f, g); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(st.dir); err != nil {
		f.Close()
		return err
	}
	st.closeActive()
	st.active, st.activeSize, st.damaged = f, fileHeaderSize, false
	st.logs = append(st.logs, g)
	return nil
}

// resetLog makes f an empty log of generation g.
func (st *Store) resetLog(f *os.File, g uint64) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt(fileHeader(logMagic, g), 0); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	return nil
}

func (st *Store) closeActive() {
	if st.active != nil {
		st.active.Close() //nolint:errcheck // fsynced after every append
		st.active = nil
	}
}

// removeStale removes the files a finished compaction made obsolete (a
// crash can leave them behind).
func (st *Store) removeStale() {
	bases, logs, err := st.list()
	if err != nil {
		return
	}
	for _, g := range bases {
		if g < st.base {
			st.remove(st.basePath(g))
		}
	}
	for _, g := range logs {
		if g < st.logs[0] {
			st.remove(st.logPath(g))
		}
	}
}

func (st *Store) remove(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		st.log.Warn("remove obsolete checkpoint file", "path", path, "err", err)
	}
}

// Append writes d as the next segment of the log and fsyncs it. When it
// returns nil, d's changes and offsets are durable: the caller may commit
// the offsets to Kafka. When it fails, the store keeps d and writes it with
// the next delta, so nothing is lost; the offsets are not durable until an
// Append succeeds. Append may start a compaction in the background.
func (st *Store) Append(ctx context.Context, d *Delta) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return fmt.Errorf("append checkpoint: %w", ErrClosed)
	}
	users, movies := st.users, st.movies
	if p := st.pending; p != nil {
		users, movies = int(p.FirstUser)+len(p.UserIDs), int(p.FirstMovie)+len(p.MovieIDs)
	}
	if int(d.FirstUser) != users || int(d.FirstMovie) != movies {
		return fmt.Errorf("append checkpoint: the delta's ids start at %d/%d where %d/%d are due: not the next delta of the state Open returned",
			d.FirstUser, d.FirstMovie, users, movies)
	}
	d = mergeDeltas(st.pending, d)
	st.pending = nil
	if err := ctx.Err(); err != nil {
		st.pending = d // the next append writes these changes too
		return fmt.Errorf("append checkpoint: %w", err)
	}
	if err := st.write(d); err != nil {
		st.pending = d
		return fmt.Errorf("append checkpoint segment %d to %s: %w", st.seq+1, st.active.Name(), err)
	}
	st.maybeCompact()
	return nil
}

// write appends one segment to the active log.
func (st *Store) write(d *Delta) error {
	f := st.active
	if st.damaged {
		// A failed append may have left part of a segment: cut it off,
		// or the next load would take the good segment after it for a
		// sign of corruption.
		if err := f.Truncate(st.activeSize); err != nil {
			return err
		}
		st.damaged = false
	}
	seg := encodeSegment(d, st.seq+1)
	if _, err := f.WriteAt(seg, st.activeSize); err != nil {
		st.damaged = true
		return err
	}
	if err := f.Sync(); err != nil {
		st.damaged = true
		return err
	}
	st.activeSize += int64(len(seg))
	st.users, st.movies = int(d.FirstUser)+len(d.UserIDs), int(d.FirstMovie)+len(d.MovieIDs)
	st.logBytes += int64(len(seg))
	st.logSegments++
	st.seq++
	return nil
}

// maybeCompact starts a compaction when the logs have grown enough and none
// runs. The active log is retired and a new one started, so appends go on
// while the compaction merges the retired logs into a new base.
func (st *Store) maybeCompact() {
	if st.compacting {
		return
	}
	if st.skip > 0 {
		st.skip--
		return
	}
	big := st.logBytes > st.opt.CompactMinBytes && float64(st.logBytes) > st.opt.CompactRatio*float64(st.baseBytes)
	if !big && st.logSegments <= st.opt.CompactMaxSegments {
		return
	}
	if err := st.startCompaction(); err != nil {
		st.log.Error("checkpoint compaction not started", "err", err)
	}
}

// startCompaction retires the live logs and merges them with the base in a
// goroutine the store owns.
func (st *Store) startCompaction() error {
	retired := slices.Clone(st.logs)
	next := retired[len(retired)-1] + 1
	if err := st.createLog(next); err != nil {
		st.logs = retired
		return fmt.Errorf("create %s: %w", st.logPath(next), err)
	}
	st.logs = []uint64{next}
	job := compactJob{base: st.base, logs: retired, out: next, bytes: st.logBytes, segments: st.logSegments}
	st.compacting = true
	done := make(chan struct{})
	st.compDone = done
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer close(done)
		size, err := st.compact(st.ctx, job)
		st.finishCompaction(job, size, err)
	}()
	return nil
}

// finishCompaction installs a compaction's base and removes what it
// replaced, or puts the retired logs back.
func (st *Store) finishCompaction(job compactJob, size int64, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.compacting = false
	st.compErr = err
	if err != nil {
		// The retired logs stay live: the next load replays them. The
		// compaction is retried after 2, 4, 8 ... appends.
		st.logs = append(slices.Clone(job.logs), st.logs...)
		st.failures++
		st.skip = 1 << min(st.failures, 10)
		if st.ctx.Err() == nil {
			st.log.Error("checkpoint compaction failed", "into", st.basePath(job.out), "err", err)
		}
		return
	}
	st.failures = 0
	old := st.base
	st.base, st.baseBytes = job.out, size
	// What is left is what was appended to the new log since the rotation.
	st.logBytes -= job.bytes
	st.logSegments -= job.segments
	if old > 0 {
		st.remove(st.basePath(old))
	}
	for _, g := range job.logs {
		st.remove(st.logPath(g))
	}
	st.log.Info("checkpoint compacted", "base", st.basePath(job.out), "bytes", size, "logs_merged", len(job.logs))
}

// Compact merges the logs into a new base now and waits for it (a
// compaction already running is waited for first). Appends may go on
// meanwhile.
func (st *Store) Compact(ctx context.Context) error {
	st.mu.Lock()
	for st.compacting {
		if err := st.awaitCompaction(ctx); err != nil {
			return err
		}
	}
	if st.closed {
		st.mu.Unlock()
		return fmt.Errorf("compact checkpoint: %w", ErrClosed)
	}
	if st.logSegments == 0 && len(st.logs) == 1 {
		st.mu.Unlock()
		return nil
	}
	if err := st.startCompaction(); err != nil {
		st.mu.Unlock()
		return fmt.Errorf("compact checkpoint: %w", err)
	}
	if err := st.awaitCompaction(ctx); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if st.compErr != nil {
		return fmt.Errorf("compact checkpoint: %w", st.compErr)
	}
	return nil
}

// awaitCompaction waits for the running compaction to end without holding
// st.mu, which the caller holds. It returns with st.mu held again, or, when
// ctx ends first, with ctx's error and st.mu not held.
func (st *Store) awaitCompaction(ctx context.Context) error {
	done := st.compDone
	st.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("compact checkpoint: %w", ctx.Err())
	}
	st.mu.Lock()
	return nil
}

// Close stops a running compaction (its temporary file is removed; the
// files it would have replaced stay valid) and closes the log. A delta
// whose append failed is dropped: its offsets were never durable.
func (st *Store) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	st.cancel()
	st.mu.Unlock()
	st.wg.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.active != nil {
		err := st.active.Close()
		st.active = nil
		if err != nil {
			return fmt.Errorf("close checkpoint: %w", err)
		}
	}
	return nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }
