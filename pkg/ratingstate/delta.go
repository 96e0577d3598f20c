package ratingstate

import (
	"errors"
	"maps"
)

// ErrNotTracking is returned by TakeDelta for a state that does not track
// its changes (one from New rather than Open).
var ErrNotTracking = errors.New("state does not track changes (use the state Open returns)")

// Delta is what changed in a state since the previous TakeDelta: the ids
// interned since, every changed entry, the positions of the users whose
// entries changed, and the Kafka offsets the caller says the state covers
// now. The loop hands it to the checkpoint writer (Store.Append) in another
// goroutine; it shares nothing mutable with the state.
type Delta struct {
	// FirstUser and FirstMovie are the indices of UserIDs[0] and
	// MovieIDs[0]: the ids are appended to the tables in order.
	FirstUser, FirstMovie int32
	UserIDs, MovieIDs     []string
	// changes in order of application; a pair changed twice appears twice,
	// the later one winning.
	changes   []change
	positions []userPos
	// Offsets maps each partition to the next offset not covered.
	Offsets map[int32]int64
	// SavedAt is the caller's clock at TakeDelta, Unix nanoseconds (the
	// package has no clock).
	SavedAt int64
	// Len and Hash are the state's pair count and content hash at
	// TakeDelta; loading checks that replaying the delta reaches them.
	Len  int
	Hash Hash
}

// userPos is a user's position in a delta or a base.
type userPos struct {
	user int32
	pos  Position
}

// Changes is the number of changed entries the delta carries (a pair
// changed twice counts twice).
func (d *Delta) Changes() int { return len(d.changes) }

// TakeDelta returns the changes since the previous call (or since Open)
// with a copy of offsets, and starts a new delta. It costs O(users changed),
// not O(pairs), so the loop can call it every few seconds at any size.
func (s *State) TakeDelta(offsets map[int32]int64, savedAt int64) (*Delta, error) {
	if !s.track {
		return nil, ErrNotTracking
	}
	d := &Delta{FirstUser: int32(s.savedUsers), FirstMovie: int32(s.savedMovies),
		UserIDs:  s.userIDs[s.savedUsers:len(s.userIDs):len(s.userIDs)],
		MovieIDs: s.movieIDs[s.savedMovies:len(s.movieIDs):len(s.movieIDs)],
		changes:  s.changes, positions: make([]userPos, 0, len(s.dirtyUsers)),
		Offsets: maps.Clone(offsets), SavedAt: savedAt, Len: s.n, Hash: s.Hash()}
	if d.Offsets == nil {
		d.Offsets = map[int32]int64{}
	}
	for _, u := range s.dirtyUsers {
		ur := &s.users[u]
		ur.dirty = false
		d.positions = append(d.positions, userPos{user: u, pos: ur.pos})
	}
	s.savedUsers, s.savedMovies = len(s.userIDs), len(s.movieIDs)
	// The next delta gets new arrays; a quarter of the last one's size is a
	// guess that avoids most regrowth without holding memory.
	s.changes = make([]change, 0, len(s.changes)/4)
	s.dirtyUsers = make([]int32, 0, len(s.dirtyUsers)/4)
	return d, nil
}

// mergeDeltas returns a followed by b as one delta (b's offsets, length and
// hash win). It is how a failed append is retried with the next one.
func mergeDeltas(a, b *Delta) *Delta {
	if a == nil {
		return b
	}
	return &Delta{FirstUser: a.FirstUser, FirstMovie: a.FirstMovie,
		UserIDs:   append(a.UserIDs[:len(a.UserIDs):len(a.UserIDs)], b.UserIDs...),
		MovieIDs:  append(a.MovieIDs[:len(a.MovieIDs):len(a.MovieIDs)], b.MovieIDs...),
		changes:   append(a.changes[:len(a.changes):len(a.changes)], b.changes...),
		positions: append(a.positions[:len(a.positions):len(a.positions)], b.positions...),
		Offsets:   b.Offsets, SavedAt: b.SavedAt, Len: b.Len, Hash: b.Hash}
}
