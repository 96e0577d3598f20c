package recommend

import (
	"sync"
	"sync/atomic"
)

// userOverlay holds the users that deltas changed or added since the fit
// (a snapshot carries them along). Each user's state is an immutable
// *userState published whole: a request loads it without a lock, and Apply
// replaces it without waiting for requests in flight (issue 12: no lock a
// delta writer holds may stall a request). A request reads its user once,
// so it answers with the model before or after any delta, never a mix.
type userOverlay struct {
	states sync.Map // user id -> *userState; lock-free loads

	// mu orders the writers (Apply) and those that read the whole overlay
	// (MarshalBinary, Clone, Validate); requests never take it. added
	// lists, in order of
	// arrival, the users that the model's index does not hold, and nAdded
	// counts them for Stats.
	mu     sync.Mutex
	added  []string
	nAdded atomic.Int64
}

// load returns the state of user id that a delta published, or nil. A nil
// overlay (the tuner's working models) holds nobody.
func (o *userOverlay) load(id string) *userState {
	if o == nil {
		return nil
	}
	v, ok := o.states.Load(id)
	if !ok {
		return nil
	}
	return v.(*userState)
}

// store publishes st as user id's state; indexed says the model's index
// holds id. The caller holds o.mu.
func (o *userOverlay) store(id string, st *userState, indexed bool) {
	if _, had := o.states.Swap(id, st); !had && !indexed {
		o.added = append(o.added, id)
		o.nAdded.Add(1)
	}
}

// newUsers is how many users the overlay adds to the model's index.
func (o *userOverlay) newUsers() int {
	if o == nil {
		return 0
	}
	return int(o.nAdded.Load())
}

// each calls fn with every user the overlay holds, in the order the
// snapshot writes them: the model's index (ids) first, then the added
// users in order of arrival. The caller holds o.mu.
func (o *userOverlay) each(ids []string, fn func(u int, id string, st *userState)) {
	for u, id := range ids {
		if st := o.load(id); st != nil {
			fn(u, id, st)
		}
	}
	for j, id := range o.added {
		fn(len(ids)+j, id, o.load(id))
	}
}

// clone returns a deep copy of the overlay, for a model indexed by ids.
// The caller holds o.mu.
func (o *userOverlay) clone(ids []string) *userOverlay {
	c := &userOverlay{}
	o.each(ids, func(u int, id string, st *userState) {
		c.store(id, &userState{items: append([]int32(nil), st.items...), values: append([]float32(nil), st.values...),
			vec: append([]float32(nil), st.vec...), rvec: append([]float32(nil), st.rvec...), rbias: st.rbias}, u < len(ids))
	})
	return c
}
