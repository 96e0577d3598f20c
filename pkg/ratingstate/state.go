package ratingstate

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync/atomic"
)

// Errors of Update.
var (
	// ErrValue is returned for a value the state cannot hold (see
	// ValidValue).
	ErrValue = errors.New("value must be 0 or 0.5..5 in steps of 0.5")
	// ErrEmptyID is returned for an event without a user or movie id.
	ErrEmptyID = errors.New("user and movie ids are required")
	// ErrFull is returned when a new user or movie would not fit the
	// indices (2^31-1 users, 2^28 movies).
	ErrFull = errors.New("too many users or movies")
)

// maxMovies is the number of movie indices the packed movie/value column
// has room for.
const maxMovies = 1 << (32 - codeBits)

// Event is one rating event as the trainer applies it.
type Event struct {
	User, Movie string
	// Value is 0 (seen, no signal: a skip kept as seen-only) or 0.5..5 in
	// half steps.
	Value float32
	// TS is the event time, Unix nanoseconds.
	TS int64
	// EventID identifies the event; the state keeps EventHash(EventID).
	EventID string
	// Partition and Offset locate the event in the Kafka topic; a negative
	// Partition means it did not come from Kafka (the user's position is
	// then left as it was).
	Partition int32
	Offset    int64
}

// Position is where in the Kafka topic the latest event that changed a
// user's ratings was. Kafka's key is the user id, so all of a user's events
// are on one partition.
type Position struct {
	Partition int32
	Offset    int64
}

// NoPosition is the position of a user none of whose applied events came
// from Kafka.
var NoPosition = Position{Partition: -1, Offset: -1}

// Entry is the latest event of one (user, movie) pair, by index.
type Entry struct {
	User, Movie int32
	Value       float32
	TS          int64
	EventHash   uint64
}

// MovieValue is one movie a user rated, by index.
type MovieValue struct {
	Movie int32
	Value float32
}

// UserValue is one user who rated a movie, by index.
type UserValue struct {
	User  int32
	Value float32
}

// Rated is one movie a user rated, by id (the shape of recommend.Rated).
type Rated struct {
	Movie string
	Value float32
}

// Rater is one user who rated a movie, by id (the shape of
// recommend.Rater).
type Rater struct {
	User  string
	Value float32
}

// user is one user's entries and Kafka position.
type user struct {
	blk    []uint64 // see block.go
	pos    Position
	n      int32 // entries
	sorted int32 // the first sorted entries are in movie order
	epoch  uint32
	dirty  bool // changed since the last TakeDelta
}

// change is one changed entry, kept for the next checkpoint segment.
type change struct {
	user int32
	mv   uint32
	ts   int64
	eh   uint64
}

// State is the rating state: the latest event per (user, movie) pair, with
// ids interned to int32 indices (in order of first appearance), each user's
// entries in one pointer-free block (20 bytes per entry), the raters of each
// movie as user indices (4 bytes per entry), each user's Kafka position, and
// a content hash kept up to date by every change.
//
// The latest event wins by event time, then by event hash (see EventHash),
// so replays, duplicates and late events change nothing and the state does
// not depend on the order of delivery.
//
// A State is owned by one goroutine and is not safe for concurrent use;
// what other goroutines need they get from Export (a consistent view) and
// TakeDelta (the changes for the checkpoint).
type State struct {
	users    []user
	userIdx  map[string]int32
	userIDs  []string
	movieIdx map[string]int32
	movieIDs []string
	raters   [][]int32
	n        int
	sum      sum

	// Copy-on-write for views: blocks of an epoch <= frozen are shared
	// with a live view while views > 0, and are copied before a change.
	epoch  uint32
	frozen uint32
	views  *atomic.Int32

	// Changes since the last TakeDelta, when tracking (states from Open).
	track       bool
	changes     []change
	dirtyUsers  []int32
	savedUsers  int // ids already handed over in a Delta
	savedMovies int

	tail  []tailEntry // scratch of merge
	order orderScratch
}

// New returns an empty state that does not track changes for a checkpoint
// (Open returns one that does).
func New() *State {
	return &State{userIdx: map[string]int32{}, movieIdx: map[string]int32{}, epoch: 1, views: new(atomic.Int32)}
}

// Len is the number of (user, movie) pairs held.
func (s *State) Len() int { return s.n }

// NumUsers is the number of user ids interned; each has at least one pair.
func (s *State) NumUsers() int { return len(s.userIDs) }

// NumMovies is the number of movie ids interned; each has at least one
// pair.
func (s *State) NumMovies() int { return len(s.movieIDs) }

// UserID returns the id of user index u; it panics when u is out of range.
// Indices are given in order of first appearance and never change, also
// across a checkpoint and a restart.
func (s *State) UserID(u int32) string { return s.userIDs[u] }

// MovieID returns the id of movie index m; it panics when m is out of range.
func (s *State) MovieID(m int32) string { return s.movieIDs[m] }

// UserIndex returns the index of a user id, and whether it is known.
func (s *State) UserIndex(id string) (int32, bool) {
	u, ok := s.userIdx[id]
	return u, ok
}

// MovieIndex returns the index of a movie id, and whether it is known.
func (s *State) MovieIndex(id string) (int32, bool) {
	m, ok := s.movieIdx[id]
	return m, ok
}

// Hash is the content hash of the state, kept up to date by every change
// (O(1)).
func (s *State) Hash() Hash { return s.sum.hash() }

// Update applies e when it supersedes what the state holds for its user and
// movie, and reports whether it did (a new pair or a newer event). A
// replay, a duplicate or an older event changes nothing and returns false.
// An invalid value or id is an error and changes nothing.
func (s *State) Update(e Event) (bool, error) {
	code, ok := valueCode(e.Value)
	if !ok {
		return false, fmt.Errorf("update %q/%q: value %v: %w", e.User, e.Movie, e.Value, ErrValue)
	}
	if e.User == "" || e.Movie == "" {
		return false, fmt.Errorf("update event %q: %w", e.EventID, ErrEmptyID)
	}
	eh := EventHash(e.EventID)
	u, uok := s.userIdx[e.User]
	m, mok := s.movieIdx[e.Movie]
	if !uok || !mok {
		var err error
		if u, m, err = s.intern(e.User, e.Movie, uok, mok); err != nil {
			return false, fmt.Errorf("update %q/%q: %w", e.User, e.Movie, err)
		}
	}
	if !s.set(u, m, code, e.TS, eh) {
		return false, nil
	}
	if e.Partition >= 0 {
		ur := &s.users[u]
		if ur.pos.Partition != e.Partition || e.Offset > ur.pos.Offset {
			ur.pos = Position{Partition: e.Partition, Offset: e.Offset}
		}
	}
	return true, nil
}

// intern adds the user and movie ids not known yet.
func (s *State) intern(userID, movieID string, uok, mok bool) (int32, int32, error) {
	if (!uok && len(s.userIDs) >= math.MaxInt32) || (!mok && len(s.movieIDs) >= maxMovies) {
		return 0, 0, ErrFull
	}
	u, m := s.userIdx[userID], s.movieIdx[movieID]
	if !uok {
		u = s.addUser(strings.Clone(userID), NoPosition)
	}
	if !mok {
		m = s.addMovie(strings.Clone(movieID))
	}
	return u, m, nil
}

func (s *State) addUser(id string, pos Position) int32 {
	u := int32(len(s.userIDs))
	s.userIdx[id] = u
	s.userIDs = append(s.userIDs, id)
	s.users = append(s.users, user{pos: pos, epoch: s.epoch})
	return u
}

func (s *State) addMovie(id string) int32 {
	m := int32(len(s.movieIDs))
	s.movieIdx[id] = m
	s.movieIDs = append(s.movieIDs, id)
	s.raters = append(s.raters, nil)
	return m
}

// set applies one event by index and reports whether it changed the state.
func (s *State) set(u, m int32, code uint8, ts int64, eh uint64) bool {
	ur := &s.users[u]
	b := viewBlock(ur.blk)
	n, sorted := int(ur.n), int(ur.sorted)
	mv := packMV(m, code)
	if i := b.find(m, n, sorted); i >= 0 {
		if !newer(ts, eh, b.ts[i], b.eh[i]) {
			return false
		}
		uid, mid := s.userIDs[u], s.movieIDs[m]
		s.sum.sub(entryDigest(uid, mid, codeOf(b.mv[i]), b.ts[i], b.eh[i]))
		s.sum.add(entryDigest(uid, mid, code, ts, eh))
		b = s.own(ur, b, n, b.cap)
		b.mv[i], b.ts[i], b.eh[i] = mv, ts, eh
	} else {
		if n == b.cap {
			b = s.reblock(ur, b, n, growCap(b.cap))
		} else {
			b = s.own(ur, b, n, b.cap)
		}
		b.mv[n], b.ts[n], b.eh[n] = mv, ts, eh
		n++
		ur.n = int32(n)
		if n-sorted > tailMax(n) {
			s.tail = b.merge(n, sorted, s.tail)
			ur.sorted = int32(n)
		}
		s.raters[m] = append(s.raters[m], u)
		s.n++
		s.sum.add(entryDigest(s.userIDs[u], s.movieIDs[m], code, ts, eh))
	}
	if s.track {
		s.changes = append(s.changes, change{user: u, mv: mv, ts: ts, eh: eh})
		if !ur.dirty {
			ur.dirty = true
			s.dirtyUsers = append(s.dirtyUsers, u)
		}
	}
	return true
}

// own makes ur's block safe to change: a block shared with a live view is
// copied first.
func (s *State) own(ur *user, b ublock, n, c int) ublock {
	if ur.epoch > s.frozen || s.views.Load() == 0 {
		return b
	}
	return s.reblock(ur, b, n, c)
}

// reblock moves ur's entries to a new block of capacity at least c.
func (s *State) reblock(ur *user, b ublock, n, c int) ublock {
	nb, v := copyBlock(b, n, c)
	ur.blk, ur.epoch = nb, s.epoch
	return v
}

// Position returns the Kafka position of user's latest applied event
// (NoPosition when none came from Kafka), and whether the user is known.
func (s *State) Position(userID string) (Position, bool) {
	u, ok := s.userIdx[userID]
	if !ok {
		return NoPosition, false
	}
	return s.users[u].pos, true
}

// RatedIndex appends to dst[:0] everything user u rated, sorted by movie
// index, and returns it. Values of 0 are seen-only entries.
func (s *State) RatedIndex(u int32, dst []MovieValue) []MovieValue {
	dst = dst[:0]
	if u < 0 || int(u) >= len(s.users) {
		return dst
	}
	b, n, ord := s.user(u)
	for j := range n {
		i := slot(ord, j)
		dst = append(dst, MovieValue{Movie: movieOf(b.mv[i]), Value: codeValue(codeOf(b.mv[i]))})
	}
	return dst
}

// user is orderScratch.entries of user u.
func (s *State) user(u int32) (ublock, int, []int32) {
	ur := &s.users[u]
	return s.order.entries(ur.blk, ur.n, ur.sorted)
}

// Rated returns everything userID rated, sorted by movie id (as strings
// compare), as the old map-based state did. Values of 0 are seen-only
// entries.
func (s *State) Rated(userID string) []Rated {
	u, ok := s.userIdx[userID]
	if !ok {
		return []Rated{}
	}
	ur := &s.users[u]
	b := viewBlock(ur.blk)
	out := make([]Rated, ur.n)
	for i := range out {
		out[i] = Rated{Movie: s.movieIDs[movieOf(b.mv[i])], Value: codeValue(codeOf(b.mv[i]))}
	}
	slices.SortFunc(out, func(a, b Rated) int { return cmp.Compare(a.Movie, b.Movie) })
	return out
}

// value returns the value user u holds for movie m.
func (s *State) value(u, m int32) (float32, bool) {
	ur := &s.users[u]
	b := viewBlock(ur.blk)
	i := b.find(m, int(ur.n), int(ur.sorted))
	if i < 0 {
		return 0, false
	}
	return codeValue(codeOf(b.mv[i])), true
}

// RatersIndex appends to dst[:0] the users who rated movie m with their
// values, sorted by user index, and returns it.
func (s *State) RatersIndex(m int32, dst []UserValue) []UserValue {
	dst = dst[:0]
	if m < 0 || int(m) >= len(s.raters) {
		return dst
	}
	for _, u := range s.raters[m] {
		v, _ := s.value(u, m)
		dst = append(dst, UserValue{User: u, Value: v})
	}
	slices.SortFunc(dst, func(a, b UserValue) int { return cmp.Compare(a.User, b.User) })
	return dst
}

// Raters returns the users who rated movieID with their values, sorted by
// user id (as strings compare), as the old map-based state did.
func (s *State) Raters(movieID string) []Rater {
	m, ok := s.movieIdx[movieID]
	if !ok {
		return []Rater{}
	}
	out := make([]Rater, 0, len(s.raters[m]))
	for _, u := range s.raters[m] {
		v, _ := s.value(u, m)
		out = append(out, Rater{User: s.userIDs[u], Value: v})
	}
	slices.SortFunc(out, func(a, b Rater) int { return cmp.Compare(a.User, b.User) })
	return out
}

// Users yields every user id with its Kafka position, in index order.
func (s *State) Users() iter.Seq2[string, Position] {
	return func(yield func(string, Position) bool) {
		for u := range s.users {
			if !yield(s.userIDs[u], s.users[u].pos) {
				return
			}
		}
	}
}

// All yields every entry, by user index and then movie index. The state
// must not change during the iteration.
func (s *State) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for u := range s.users {
			b, n, ord := s.user(int32(u))
			ord = slices.Clone(ord) // yield may call methods that reuse the scratch
			for j := range n {
				i := slot(ord, j)
				if !yield(Entry{User: int32(u), Movie: movieOf(b.mv[i]), Value: codeValue(codeOf(b.mv[i])),
					TS: b.ts[i], EventHash: b.eh[i]}) {
					return
				}
			}
		}
	}
}
