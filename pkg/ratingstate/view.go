package ratingstate

import (
	"sync"
	"sync/atomic"
)

// View is a consistent, read-only copy of a State at one moment, for a
// refit or a checkpoint running in another goroutine while the state keeps
// changing. It is copy-on-write: Export copies only the per-user headers
// (O(users), about 1 ms per 100,000 users), and the state copies a user's
// block the first time it changes that user while the view is live. A View
// is safe for use by one goroutine at a time; Release it when done, so the
// state stops copying.
type View struct {
	users    []userSnap
	userIDs  []string
	movieIDs []string
	n        int
	hash     Hash
	live     *atomic.Int32
	release  sync.Once
	order    orderScratch
}

// userSnap is one user's block as of the export.
type userSnap struct {
	blk       []uint64
	pos       Position
	n, sorted int32
}

// Export returns a consistent view of the state as it is now. The caller
// owns the view and must Release it.
func (s *State) Export() *View {
	v := &View{users: make([]userSnap, len(s.users)), userIDs: s.userIDs[:len(s.userIDs):len(s.userIDs)],
		movieIDs: s.movieIDs[:len(s.movieIDs):len(s.movieIDs)], n: s.n, hash: s.Hash(), live: s.views}
	for u := range s.users {
		ur := &s.users[u]
		v.users[u] = userSnap{blk: ur.blk, pos: ur.pos, n: ur.n, sorted: ur.sorted}
	}
	s.frozen = s.epoch
	s.epoch++
	s.views.Add(1)
	return v
}

// Release tells the state the view is no longer read. Reading a released
// view is a bug (it may see later changes). Release is idempotent and may be
// called from any goroutine.
func (v *View) Release() {
	v.release.Do(func() {
		v.users = nil
		v.live.Add(-1)
	})
}

// Len is the number of pairs in the view.
func (v *View) Len() int { return v.n }

// Hash is the state's content hash at the export.
func (v *View) Hash() Hash { return v.hash }

// UserIDs is the user id table at the export, index to id. It is shared
// with the state: do not change it.
func (v *View) UserIDs() []string { return v.userIDs }

// MovieIDs is the movie id table at the export, index to id. It is shared
// with the state: do not change it.
func (v *View) MovieIDs() []string { return v.movieIDs }

// Position is user u's Kafka position at the export.
func (v *View) Position(u int32) Position { return v.users[u].pos }

// Each calls fn for every entry, by user index and then movie index; it
// stops when fn returns false.
func (v *View) Each(fn func(e Entry) bool) {
	for u := range v.users {
		b, n, ord := v.user(u)
		for j := range n {
			i := slot(ord, j)
			if !fn(Entry{User: int32(u), Movie: movieOf(b.mv[i]), Value: codeValue(codeOf(b.mv[i])),
				TS: b.ts[i], EventHash: b.eh[i]}) {
				return
			}
		}
	}
}

// Columns is a state in columnar form: entry i is (User[i], Movie[i],
// Value[i]) at time TS[i] (the event time, Unix nanoseconds), as indices
// into UserIDs and MovieIDs, sorted by user index and then movie index. No
// per-pair strings: 20 bytes per pair.
type Columns struct {
	User, Movie []int32
	Value       []float32
	TS          []int64
	// UserIDs and MovieIDs map indices to ids; shared with the state.
	UserIDs, MovieIDs []string
}

// Columns builds the view's columnar export. It allocates four arrays of
// Len() entries and runs in the caller's goroutine (a refit's), not the
// state owner's.
func (v *View) Columns() Columns {
	c := Columns{User: make([]int32, v.n), Movie: make([]int32, v.n), Value: make([]float32, v.n),
		TS: make([]int64, v.n), UserIDs: v.userIDs, MovieIDs: v.movieIDs}
	k := 0
	for u := range v.users {
		b, n, ord := v.user(u)
		for j := range n {
			i := slot(ord, j)
			mv := b.mv[i]
			c.User[k], c.Movie[k], c.Value[k], c.TS[k] = int32(u), movieOf(mv), codeValue(codeOf(mv)), b.ts[i]
			k++
		}
	}
	return c
}

// user is orderScratch.entries of user u.
func (v *View) user(u int) (ublock, int, []int32) {
	us := &v.users[u]
	return v.order.entries(us.blk, us.n, us.sorted)
}
