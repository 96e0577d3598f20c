package trainer

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"slices"
	"strconv"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Entry is the rating state's latest event for one user and movie, with the
// Kafka position it came from.
type Entry struct {
	User    string  `json:"u"`
	Movie   string  `json:"m"`
	Value   float32 `json:"v"`
	TS      int64   `json:"t"` // event time, Unix nanoseconds
	EventID string  `json:"e"`
	// Partition and Offset locate the event in swipeflix.ratings; -1/-1
	// for entries that did not come from Kafka (a dataset file).
	Partition int32 `json:"p"`
	Offset    int64 `json:"o"`
}

// newer reports whether a supersedes b: a later event time, or the same
// time and a greater event id. The same event twice is not newer, so replays
// and duplicates change nothing.
func (a *Entry) newer(b *Entry) bool {
	if a.TS != b.TS {
		return a.TS > b.TS
	}
	return a.EventID > b.EventID
}

// State is the trainer's rating state: the latest event per user and movie.
// It is pure data; the consume loop owns it and no method is safe for
// concurrent use.
type State struct {
	users  map[string]map[string]*Entry
	raters map[string]map[string]struct{} // movie -> users who rated it
	n      int
}

// NewState returns an empty state.
func NewState() *State {
	return &State{users: map[string]map[string]*Entry{}, raters: map[string]map[string]struct{}{}}
}

// Len is the number of (user, movie) pairs held.
func (s *State) Len() int { return s.n }

// Update keeps e when it supersedes what the state holds for its user and
// movie, and reports whether it did.
func (s *State) Update(e Entry) bool {
	um := s.users[e.User]
	if um == nil {
		um = map[string]*Entry{}
		s.users[e.User] = um
	}
	if cur, ok := um[e.Movie]; ok {
		if !e.newer(cur) {
			return false
		}
		*cur = e
		return true
	}
	um[e.Movie] = &e
	s.n++
	r := s.raters[e.Movie]
	if r == nil {
		r = map[string]struct{}{}
		s.raters[e.Movie] = r
	}
	r[e.User] = struct{}{}
	return true
}

// Rated returns everything user rated, sorted by movie id.
func (s *State) Rated(user string) []recommend.Rated {
	um := s.users[user]
	out := make([]recommend.Rated, 0, len(um))
	for m, e := range um {
		out = append(out, recommend.Rated{Movie: m, Value: e.Value})
	}
	slices.SortFunc(out, func(a, b recommend.Rated) int { return cmp.Compare(a.Movie, b.Movie) })
	return out
}

// Raters returns the users who rated movie with their values, sorted by user.
func (s *State) Raters(movie string) []recommend.Rater {
	out := make([]recommend.Rater, 0, len(s.raters[movie]))
	for u := range s.raters[movie] {
		out = append(out, recommend.Rater{User: u, Value: s.users[u][movie].Value})
	}
	slices.SortFunc(out, func(a, b recommend.Rater) int { return cmp.Compare(a.User, b.User) })
	return out
}

// Entries returns a copy of every entry, sorted by user then movie.
func (s *State) Entries() []Entry {
	out := make([]Entry, 0, s.n)
	for _, um := range s.users {
		for _, e := range um {
			out = append(out, *e)
		}
	}
	sortEntries(out)
	return out
}

// sortEntries orders entries by user then movie.
func sortEntries(entries []Entry) {
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := cmp.Compare(a.User, b.User); c != 0 {
			return c
		}
		return cmp.Compare(a.Movie, b.Movie)
	})
}

// Each calls fn for every entry in no particular order; fn must not keep e.
func (s *State) Each(fn func(e *Entry)) {
	for _, um := range s.users {
		for _, e := range um {
			fn(e)
		}
	}
}

// Hash is the content hash of the state: sha256 over its sorted entries
// (user, movie, value, event time, event id). Two states hash alike exactly
// when they hold the same latest events.
func (s *State) Hash() string { return hashEntries(s.Entries()) }

func hashEntries(entries []Entry) string {
	h := sha256.New()
	var buf []byte
	for _, e := range entries {
		buf = buf[:0]
		buf = append(buf, e.User...)
		buf = append(buf, '\t')
		buf = append(buf, e.Movie...)
		buf = append(buf, '\t')
		buf = strconv.AppendFloat(buf, float64(e.Value), 'g', -1, 32)
		buf = append(buf, '\t')
		buf = strconv.AppendInt(buf, e.TS, 10)
		buf = append(buf, '\t')
		buf = append(buf, e.EventID...)
		buf = append(buf, '\n')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// InHoldout reports whether the pair (user, movie) belongs to the holdout:
// a deterministic hash puts about pct percent of pairs there, the same pairs
// on every run and every refit, so models are compared on equal terms.
func InHoldout(user, movie string, pct int) bool {
	if pct <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(movie))
	return int(h.Sum64()%100) < pct
}

// Split divides entries into training interactions and holdout
// interactions (InHoldout with pct).
func Split(entries []Entry, pct int) (train, holdout []recommend.Interaction) {
	for _, e := range entries {
		it := recommend.Interaction{User: e.User, Movie: e.Movie, Value: float64(e.Value)}
		if InHoldout(e.User, e.Movie, pct) {
			holdout = append(holdout, it)
		} else {
			train = append(train, it)
		}
	}
	return train, holdout
}
