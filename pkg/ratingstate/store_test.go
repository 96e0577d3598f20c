package ratingstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// recomputeHash is the content hash from scratch (a loaded base trusts the
// hash it recorded; this checks it).
func recomputeHash(s *State) Hash {
	var h sum
	for e := range s.All() {
		c, _ := valueCode(e.Value)
		h.add(entryDigest(s.UserID(e.User), s.MovieID(e.Movie), c, e.TS, e.EventHash))
	}
	return h.hash()
}

// sameState checks that b holds what a holds, by id.
func sameState(t testing.TB, a, b *State) {
	t.Helper()
	if a.Len() != b.Len() || a.NumUsers() != b.NumUsers() || a.NumMovies() != b.NumMovies() {
		t.Fatalf("%d pairs, %d users, %d movies; want %d, %d, %d", b.Len(), b.NumUsers(), b.NumMovies(), a.Len(), a.NumUsers(), a.NumMovies())
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("hash %s, want %s", b.Hash(), a.Hash())
	}
	if got := recomputeHash(b); got != b.Hash() {
		t.Fatalf("hash kept %s, recomputed %s", b.Hash(), got)
	}
	for u, p := range a.Users() {
		if q, _ := b.Position(u); q != p {
			t.Fatalf("Position(%s) = %v, want %v", u, q, p)
		}
		if got, want := b.Rated(u), a.Rated(u); !slices.Equal(got, want) {
			t.Fatalf("Rated(%s) = %v, want %v", u, got, want)
		}
	}
	for m := range a.NumMovies() {
		id := a.MovieID(int32(m))
		if got, want := b.Raters(id), a.Raters(id); !slices.Equal(got, want) {
			t.Fatalf("Raters(%s) = %v, want %v", id, got, want)
		}
	}
}

// feeder applies events to a state as the trainer does, tracking the
// offsets they cover.
type feeder struct {
	s       *State
	offsets map[int32]int64
}

func (f *feeder) apply(t testing.TB, evs []Event) {
	t.Helper()
	if f.offsets == nil {
		f.offsets = map[int32]int64{}
	}
	for _, e := range evs {
		if _, err := f.s.Update(e); err != nil {
			t.Fatal(err)
		}
		f.offsets[e.Partition] = max(f.offsets[e.Partition], e.Offset+1)
	}
}

func (f *feeder) checkpoint(t testing.TB, st *Store) {
	t.Helper()
	d, err := f.s.TakeDelta(f.offsets, time.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func openStore(t testing.TB, dir string, opt Options) (*Store, *Loaded) {
	t.Helper()
	st, ld, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, ld
}

// reference builds a state (not tracking) from events.
func reference(t testing.TB, evs []Event) *State {
	s := New()
	for _, e := range evs {
		if _, err := s.Update(e); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(5, 5)), 6000, 40, 200)
	st, ld := openStore(t, dir, Options{})
	if ld.State.Len() != 0 || len(ld.Offsets) != 0 || ld.Segments != 0 {
		t.Fatalf("a new checkpoint loads %d pairs, offsets %v", ld.State.Len(), ld.Offsets)
	}
	f := &feeder{s: ld.State}
	for i := 0; i < 3000; i += 500 {
		f.apply(t, evs[i:i+500])
		f.checkpoint(t, st)
	}
	f.checkpoint(t, st) // an empty delta is a valid segment
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, ld2 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs[:3000]), ld2.State)
	if !maps.Equal(ld2.Offsets, f.offsets) || ld2.Segments != 7 {
		t.Fatalf("offsets %v after %d segments, want %v after 7", ld2.Offsets, ld2.Segments, f.offsets)
	}
	// The loaded state goes on as the trainer's would, and its deltas
	// continue the log.
	f2 := &feeder{s: ld2.State, offsets: ld2.Offsets}
	for i := 3000; i < 6000; i += 1000 {
		f2.apply(t, evs[i:i+1000])
		f2.checkpoint(t, st2)
	}
	st2.Close()
	_, ld3 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs), ld3.State)
	sameState(t, f2.s, ld3.State)
	if !maps.Equal(ld3.Offsets, f2.offsets) {
		t.Fatalf("offsets %v, want %v", ld3.Offsets, f2.offsets)
	}
}

// TestCompactionEquivalent: compactions in the background while appends go
// on lose nothing, and a compacted base is byte for byte the base written
// from the state in memory.
func TestCompactionEquivalent(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(6, 6)), 20000, 200, 500)
	// Compact after nearly every append.
	opt := Options{CompactMinBytes: 1, CompactRatio: 1e-9}
	st, ld := openStore(t, dir, opt)
	f := &feeder{s: ld.State}
	for i := 0; i < len(evs); i += 400 {
		f.apply(t, evs[i:i+400])
		f.checkpoint(t, st)
	}
	if err := st.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	bases, logs, _ := st.list()
	if len(bases) != 1 || len(logs) != 1 || logs[0] != bases[0] {
		t.Fatalf("after a compaction: bases %v, logs %v; want one of each, same generation", bases, logs)
	}
	seq, gen := st.seq, st.base
	st.Close()

	_, ld2 := openStore(t, dir, opt)
	sameState(t, reference(t, evs), ld2.State)
	if ld2.Segments != 0 || !maps.Equal(ld2.Offsets, f.offsets) {
		t.Fatalf("loaded %d segments, offsets %v; want 0 and %v", ld2.Segments, ld2.Offsets, f.offsets)
	}

	// The same state written from memory is the same file.
	compacted, err := os.ReadFile(filepath.Join(dir, filepath.Base((&Store{dir: dir}).basePath(gen))))
	if err != nil {
		t.Fatal(err)
	}
	v := f.s.Export()
	defer v.Release()
	other := filepath.Join(t.TempDir(), "state-000001.base")
	if _, err := writeBase(other, gen, v, seq, ld2.SavedAt, f.offsets); err != nil {
		t.Fatal(err)
	}
	fromMemory, _ := os.ReadFile(other)
	if !bytes.Equal(compacted, fromMemory) {
		t.Fatalf("compacted base (%d bytes) differs from the base written from memory (%d bytes)", len(compacted), len(fromMemory))
	}
}

// logFile returns the path of the only log in dir.
func logFile(t testing.TB, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "state-*.log"))
	if len(m) != 1 {
		t.Fatalf("logs in %s: %v", dir, m)
	}
	return m[0]
}

// segmentsOf returns the checked segments of a log file.
func segmentsOf(t testing.TB, path string) []segment {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var out []segment
	for off := int64(fileHeaderSize); off < fi.Size(); {
		sg, err := checkSegment(f, off, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sg)
		off = sg.end()
	}
	return out
}

// threeSegments writes three segments of events and returns the states
// and offsets after each.
func threeSegments(t *testing.T, dir string) (states []*State, offsets []map[int32]int64, evs []Event) {
	evs = genEvents(rand.New(rand.NewPCG(7, 7)), 3000, 30, 100)
	st, ld := openStore(t, dir, Options{})
	f := &feeder{s: ld.State}
	for i := range 3 {
		f.apply(t, evs[i*1000:(i+1)*1000])
		f.checkpoint(t, st)
		states = append(states, reference(t, evs[:(i+1)*1000]))
		offsets = append(offsets, maps.Clone(f.offsets))
	}
	st.Close()
	return states, offsets, evs
}

func TestTornLastSegmentIgnored(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(path string, segs []segment) error
		// which state the load must give: 1 = after the second
		// segment, 2 = after the third.
		want int
	}{
		{"truncated payload", func(p string, s []segment) error { return os.Truncate(p, s[2].end()-7) }, 1},
		{"truncated header", func(p string, s []segment) error { return os.Truncate(p, s[2].off+20) }, 1},
		{"flipped byte in the last payload", func(p string, s []segment) error { return flip(p, s[2].end()-3) }, 1},
		{"garbage after the last segment", func(p string, s []segment) error { return appendBytes(p, []byte("SFSTSEG1 half a header")) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			states, offsets, evs := threeSegments(t, dir)
			path := logFile(t, dir)
			if err := tc.tear(path, segmentsOf(t, path)); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			st, ld := openStore(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			sameState(t, states[tc.want], ld.State)
			if !maps.Equal(ld.Offsets, offsets[tc.want]) || ld.TornBytes == 0 {
				t.Fatalf("offsets %v (torn %d bytes), want %v", ld.Offsets, ld.TornBytes, offsets[tc.want])
			}
			if !strings.Contains(logs.String(), "torn last segment") || !strings.Contains(logs.String(), path) {
				t.Fatalf("no clear log line naming the file: %s", logs.String())
			}
			// The lost events are read again from Kafka and appended
			// after the good segments: the log is whole again.
			f := &feeder{s: ld.State, offsets: ld.Offsets}
			f.apply(t, evs[(tc.want+1)*1000:])
			f.checkpoint(t, st)
			st.Close()
			_, ld2 := openStore(t, dir, Options{})
			sameState(t, states[2], ld2.State)
			if ld2.TornBytes != 0 {
				t.Fatalf("torn again after a good append: %d bytes", ld2.TornBytes)
			}
		})
	}
}

func TestCorruptSegmentInTheMiddleRefused(t *testing.T) {
	dir := t.TempDir()
	threeSegments(t, dir)
	path := logFile(t, dir)
	segs := segmentsOf(t, path)
	if err := flip(path, segs[1].off+segHeaderSize+5); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "segment 1 ") {
		t.Fatalf("Open = %v; want ErrCorrupt naming %s and segment 1", err, path)
	}
	// The file is left as it was for inspection.
	if fi, _ := os.Stat(path); fi.Size() != segs[2].end() {
		t.Fatalf("log changed to %d bytes", fi.Size())
	}
}

func TestCorruptBaseRefused(t *testing.T) {
	dir := t.TempDir()
	threeSegments(t, dir)
	st, _ := openStore(t, dir, Options{})
	if err := st.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	m, _ := filepath.Glob(filepath.Join(dir, "state-*.base"))
	if len(m) != 1 {
		t.Fatalf("bases: %v", m)
	}
	fi, _ := os.Stat(m[0])
	if err := flip(m[0], fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), m[0]) {
		t.Fatalf("Open = %v; want ErrCorrupt naming %s", err, m[0])
	}
}

func TestMissingLogRefused(t *testing.T) {
	dir := t.TempDir()
	threeSegments(t, dir)
	// A log of the next generation without the one before it.
	if err := os.Rename(logFile(t, dir), filepath.Join(dir, "state-000002.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state-000003.log"), fileHeader(logMagic, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "state-000002.log")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v; want ErrCorrupt", err)
	}
}

// TestCrashDuringCompaction: a kill after the logs were rotated and before
// the new base was renamed in leaves the old base, both logs and a
// temporary file; the load replays both logs and removes the leftovers.
func TestCrashDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(8, 8)), 4000, 30, 100)
	st, ld := openStore(t, dir, Options{})
	f := &feeder{s: ld.State}
	f.apply(t, evs[:1000])
	f.checkpoint(t, st)
	if err := st.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.apply(t, evs[1000:2000])
	f.checkpoint(t, st)
	// Rotate as a compaction does, without running it.
	st.mu.Lock()
	if err := st.createLog(st.logs[len(st.logs)-1] + 1); err != nil {
		t.Fatal(err)
	}
	st.mu.Unlock()
	f.apply(t, evs[2000:3000])
	f.checkpoint(t, st)
	tmp := filepath.Join(dir, "state-000003.base.tmp-42")
	if err := os.WriteFile(tmp, []byte("half a base"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No Close: the process died.
	_, logs, _ := st.list()
	if len(logs) != 2 {
		t.Fatalf("logs %v, want two", logs)
	}
	st2, ld2 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs[:3000]), ld2.State)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	f2 := &feeder{s: ld2.State, offsets: ld2.Offsets}
	f2.apply(t, evs[3000:])
	f2.checkpoint(t, st2)
	if err := st2.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	st2.Close()
	_, ld3 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs), ld3.State)
}

// TestAppendFailureRetried: a failed append keeps its delta and writes it
// with the next one; nothing is lost and the partial bytes are cut off.
func TestAppendFailureRetried(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(9, 9)), 3000, 30, 100)
	st, ld := openStore(t, dir, Options{})
	f := &feeder{s: ld.State}
	f.apply(t, evs[:1000])
	f.checkpoint(t, st)
	good := st.active
	ro, err := os.Open(good.Name())
	if err != nil {
		t.Fatal(err)
	}
	st.active = ro
	f.apply(t, evs[1000:2000])
	d, _ := f.s.TakeDelta(f.offsets, 0)
	if err := st.Append(context.Background(), d); err == nil {
		t.Fatal("append to a read-only file succeeded")
	}
	ro.Close()
	st.active = good
	st.damaged = true
	appendBytes(good.Name(), []byte("partial segment bytes")) //nolint:errcheck // checked by the load
	f.apply(t, evs[2000:])
	f.checkpoint(t, st)
	st.Close()
	_, ld2 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs), ld2.State)
	if ld2.TornBytes != 0 || !maps.Equal(ld2.Offsets, f.offsets) {
		t.Fatalf("torn %d bytes, offsets %v; want 0 and %v", ld2.TornBytes, ld2.Offsets, f.offsets)
	}
}

// An append refused because its context had ended keeps the delta for the
// next one: the trainer's last background checkpoint at shutdown ran with
// a cancelled context, lost its changes, and the final checkpoint then
// failed to load ("replayed state holds 5980 pairs ... recorded 6001").
func TestAppendWithEndedContextKeepsTheChanges(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(10, 10)), 3000, 30, 100)
	st, ld := openStore(t, dir, Options{})
	f := &feeder{s: ld.State}
	f.apply(t, evs[:1000])
	f.checkpoint(t, st)
	f.apply(t, evs[1000:2000])
	d, _ := f.s.TakeDelta(f.offsets, 0)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Append(ended, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with an ended context: %v, want context.Canceled", err)
	}
	f.apply(t, evs[2000:])
	f.checkpoint(t, st)
	st.Close()
	_, ld2 := openStore(t, dir, Options{})
	sameState(t, reference(t, evs), ld2.State)
}

func TestTakeDeltaNeedsTracking(t *testing.T) {
	if _, err := New().TakeDelta(nil, 0); !errors.Is(err, ErrNotTracking) {
		t.Fatalf("TakeDelta on New() = %v", err)
	}
}

// legacyCheckpoint is the trainer's format-1 file, as it writes it.
type legacyCheckpoint struct {
	Format  int             `json:"format"`
	SavedAt time.Time       `json:"saved_at"`
	Offsets map[int32]int64 `json:"offsets"`
	Entries []legacyEntry   `json:"entries"`
}

func writeLegacy(t testing.TB, path string, cp legacyCheckpoint) {
	t.Helper()
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLegacyMigration(t *testing.T) {
	root := t.TempDir()
	legacy := filepath.Join(root, "checkpoint.json")
	evs := genEvents(rand.New(rand.NewPCG(10, 10)), 2000, 30, 100)
	ref := newRef(true)
	for _, e := range evs {
		ref.update(e)
	}
	cp := legacyCheckpoint{Format: 1, SavedAt: time.Unix(1700000000, 0).UTC(), Offsets: map[int32]int64{0: 700, 1: 650, 2: 651}}
	for _, um := range ref.users {
		for _, e := range um {
			cp.Entries = append(cp.Entries, legacyEntry{User: e.User, Movie: e.Movie, Value: e.Value, TS: e.TS,
				EventID: e.EventID, Partition: e.Partition, Offset: e.Offset})
		}
	}
	writeLegacy(t, legacy, cp)
	stale := legacy + ".tmp-123"
	os.WriteFile(stale, []byte("{"), 0o644) //nolint:errcheck // checked below

	dir := filepath.Join(root, "state")
	st, ld := openStore(t, dir, Options{LegacyJSON: legacy})
	if !ld.Migrated || !maps.Equal(ld.Offsets, cp.Offsets) || ld.SavedAt != cp.SavedAt.UnixNano() {
		t.Fatalf("migrated %v, offsets %v, saved at %d", ld.Migrated, ld.Offsets, ld.SavedAt)
	}
	checkSame(t, ld.State, ref)
	for _, p := range []string{legacy, stale} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", p, err)
		}
	}
	if _, err := os.Stat(legacy + ".migrated"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Once: the next open loads the new checkpoint, also when the legacy
	// file is back (a crash between the new base and the rename): it is
	// ignored with a warning.
	if err := os.Rename(legacy+".migrated", legacy); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_, ld2 := openStore(t, dir, Options{LegacyJSON: legacy, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if ld2.Migrated || !strings.Contains(logs.String(), "legacy JSON checkpoint ignored") {
		t.Fatalf("migrated again %v; log: %s", ld2.Migrated, logs.String())
	}
	checkSame(t, ld2.State, ref)
}

func TestLegacyMigrationRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cp   legacyCheckpoint
		want string
	}{
		{"format 2", legacyCheckpoint{Format: 2}, "format 2"},
		{"off-grid value", legacyCheckpoint{Format: 1, Entries: []legacyEntry{{User: "u", Movie: "m", Value: 4.2, EventID: "e"}}}, "entry 0"},
		{"no event id", legacyCheckpoint{Format: 1, Entries: []legacyEntry{{User: "u", Movie: "m", Value: 4}}}, "entry 0"},
		{"negative offset", legacyCheckpoint{Format: 1, Offsets: map[int32]int64{0: -1}}, "offsets[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			legacy := filepath.Join(root, "checkpoint.json")
			writeLegacy(t, legacy, tc.cp)
			_, _, err := Open(filepath.Join(root, "state"), Options{LegacyJSON: legacy})
			if !errors.Is(err, ErrLegacy) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), legacy) {
				t.Fatalf("Open = %v; want ErrLegacy naming %s and %q", err, legacy, tc.want)
			}
			if _, err := os.Stat(legacy); err != nil {
				t.Fatalf("legacy file: %v", err)
			}
			if m, _ := filepath.Glob(filepath.Join(root, "state", "state-*")); len(m) != 0 {
				t.Fatalf("files left: %v", m)
			}
		})
	}
}

func flip(path string, at int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		return err
	}
	b[0] ^= 0x40
	_, err = f.WriteAt(b[:], at)
	return err
}

func appendBytes(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(b)
	return err
}

// TestAppendRefusesForeignDelta: a delta that does not continue the
// checkpoint's id tables (another state's) is refused before it is
// written.
func TestAppendRefusesForeignDelta(t *testing.T) {
	evs := genEvents(rand.New(rand.NewPCG(11, 11)), 500, 10, 20)
	st, ld := openStore(t, t.TempDir(), Options{})
	f := &feeder{s: ld.State}
	f.apply(t, evs)
	f.checkpoint(t, st)
	_, other := openStore(t, t.TempDir(), Options{})
	g := &feeder{s: other.State}
	g.apply(t, evs[:10])
	d, _ := other.State.TakeDelta(nil, 0)
	if err := st.Append(context.Background(), d); err == nil || !strings.Contains(err.Error(), "not the next delta") {
		t.Fatalf("Append(foreign delta) = %v", err)
	}
}

// TestReplayHashChecked: a segment whose checksums are right but whose
// changes do not reach the hash it recorded (a delta that lost a change) is
// refused at the next load.
func TestReplayHashChecked(t *testing.T) {
	dir := t.TempDir()
	evs := genEvents(rand.New(rand.NewPCG(12, 12)), 1000, 10, 40)
	st, ld := openStore(t, dir, Options{})
	f := &feeder{s: ld.State}
	f.apply(t, evs)
	d, _ := f.s.TakeDelta(f.offsets, 0)
	d.changes = d.changes[1:]
	if err := st.Append(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, _, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "recorded") {
		t.Fatalf("Open = %v; want ErrCorrupt for the hash", err)
	}
}
