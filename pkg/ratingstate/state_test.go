package ratingstate

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refState is today's map-based rating state (services/trainer's State),
// kept as the reference: the latest event per (user, movie) wins by event
// time, then by the tie-break given.
type refState struct {
	users  map[string]map[string]*refEntry
	raters map[string]map[string]struct{}
	pos    map[string]Position
	n      int
	// byID breaks ties by event id, as the old state did; otherwise by
	// EventHash, as the compact state does.
	byID bool
}

type refEntry struct {
	Event
	eh uint64
}

func newRef(byID bool) *refState {
	return &refState{users: map[string]map[string]*refEntry{}, raters: map[string]map[string]struct{}{},
		pos: map[string]Position{}, byID: byID}
}

func (r *refState) newer(a, b *refEntry) bool {
	if a.TS != b.TS {
		return a.TS > b.TS
	}
	if r.byID {
		return a.EventID > b.EventID
	}
	return a.eh > b.eh
}

func (r *refState) update(e Event) bool {
	ne := &refEntry{Event: e, eh: EventHash(e.EventID)}
	um := r.users[e.User]
	if um == nil {
		um = map[string]*refEntry{}
		r.users[e.User] = um
		r.pos[e.User] = NoPosition
	}
	if cur, ok := um[e.Movie]; ok {
		if !r.newer(ne, cur) {
			return false
		}
		um[e.Movie] = ne
	} else {
		um[e.Movie] = ne
		r.n++
		if r.raters[e.Movie] == nil {
			r.raters[e.Movie] = map[string]struct{}{}
		}
		r.raters[e.Movie][e.User] = struct{}{}
	}
	if p := r.pos[e.User]; e.Partition >= 0 && (p.Partition != e.Partition || e.Offset > p.Offset) {
		r.pos[e.User] = Position{Partition: e.Partition, Offset: e.Offset}
	}
	return true
}

func (r *refState) rated(u string) []Rated {
	out := []Rated{}
	for m, e := range r.users[u] {
		out = append(out, Rated{Movie: m, Value: e.Value})
	}
	slices.SortFunc(out, func(a, b Rated) int { return cmp.Compare(a.Movie, b.Movie) })
	return out
}

func (r *refState) ratersOf(m string) []Rater {
	out := []Rater{}
	for u := range r.raters[m] {
		out = append(out, Rater{User: u, Value: r.users[u][m].Value})
	}
	slices.SortFunc(out, func(a, b Rater) int { return cmp.Compare(a.User, b.User) })
	return out
}

// hash is the content hash computed from scratch.
func (r *refState) hash() Hash {
	var s sum
	for u, um := range r.users {
		for m, e := range um {
			c, _ := valueCode(e.Value)
			s.add(entryDigest(u, m, c, e.TS, e.eh))
		}
	}
	return s.hash()
}

// genEvents makes a random event stream over a small id space, with
// duplicates, replays of old events, equal event times and value-0
// (seen-only) entries. Events are in Kafka order: offsets increase per
// partition, the partition is the user's.
func genEvents(rng *rand.Rand, n, users, movies int) []Event {
	out := make([]Event, 0, n)
	next := map[int32]int64{}
	for i := 0; len(out) < n; i++ {
		var e Event
		switch k := rng.IntN(10); {
		case k == 0 && len(out) > 0:
			e = out[rng.IntN(len(out))] // a duplicate or late replay
		default:
			e = Event{User: fmt.Sprintf("u%d", rng.IntN(users)), Movie: fmt.Sprintf("m%d", rng.IntN(movies)),
				Value: float32(rng.IntN(11)) / 2, TS: int64(rng.IntN(20)), EventID: fmt.Sprintf("e%d", i)}
		}
		e.Partition = int32(len(e.User) % 3)
		e.Offset = next[e.Partition]
		next[e.Partition]++
		out = append(out, e)
	}
	return out
}

// checkSame compares a state with the reference in every way the API
// exposes.
func checkSame(t testing.TB, s *State, r *refState) {
	t.Helper()
	if s.Len() != r.n || s.NumUsers() != len(r.users) || s.NumMovies() != len(r.raters) {
		t.Fatalf("state holds %d pairs, %d users, %d movies; reference %d, %d, %d",
			s.Len(), s.NumUsers(), s.NumMovies(), r.n, len(r.users), len(r.raters))
	}
	if got, want := s.Hash(), r.hash(); got != want {
		t.Fatalf("hash %s, reference %s", got, want)
	}
	for u := range r.users {
		if got, want := s.Rated(u), r.rated(u); !slices.Equal(got, want) {
			t.Fatalf("Rated(%s) = %v, want %v", u, got, want)
		}
		if p, _ := s.Position(u); p != r.pos[u] {
			t.Fatalf("Position(%s) = %v, want %v", u, p, r.pos[u])
		}
		ui, _ := s.UserIndex(u)
		idx := s.RatedIndex(ui, nil)
		if len(idx) != len(r.users[u]) || !slices.IsSortedFunc(idx, func(a, b MovieValue) int { return cmp.Compare(a.Movie, b.Movie) }) {
			t.Fatalf("RatedIndex(%d) = %v: wrong length or order", ui, idx)
		}
		for _, mv := range idx {
			if e := r.users[u][s.MovieID(mv.Movie)]; e == nil || e.Value != mv.Value {
				t.Fatalf("RatedIndex(%s) has %s=%v, reference %v", u, s.MovieID(mv.Movie), mv.Value, e)
			}
		}
	}
	for m := range r.raters {
		if got, want := s.Raters(m), r.ratersOf(m); !slices.Equal(got, want) {
			t.Fatalf("Raters(%s) = %v, want %v", m, got, want)
		}
		mi, _ := s.MovieIndex(m)
		idx := s.RatersIndex(mi, nil)
		if len(idx) != len(r.raters[m]) || !slices.IsSortedFunc(idx, func(a, b UserValue) int { return cmp.Compare(a.User, b.User) }) {
			t.Fatalf("RatersIndex(%d) = %v: wrong length or order", mi, idx)
		}
	}
	n := 0
	for e := range s.All() {
		re := r.users[s.UserID(e.User)][s.MovieID(e.Movie)]
		if re == nil || re.Value != e.Value || re.TS != e.TS || re.eh != e.EventHash {
			t.Fatalf("All yields %+v, reference %+v", e, re)
		}
		n++
	}
	if n != r.n {
		t.Fatalf("All yields %d entries, want %d", n, r.n)
	}
	users := 0
	for id, p := range s.Users() {
		if r.pos[id] != p {
			t.Fatalf("Users yields %s at %v, want %v", id, p, r.pos[id])
		}
		users++
	}
	if users != len(r.users) {
		t.Fatalf("Users yields %d users, want %d", users, len(r.users))
	}
}

func TestStateMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		events, users, movie int
	}{
		{"small", 300, 5, 8},
		{"dense", 5000, 4, 400}, // long per-user arrays: sorted part and tail merges
		{"sparse", 5000, 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.events)))
			evs := genEvents(rng, tc.events, tc.users, tc.movie)
			s, r := New(), newRef(false)
			for i, e := range evs {
				got, err := s.Update(e)
				if err != nil {
					t.Fatal(err)
				}
				if want := r.update(e); got != want {
					t.Fatalf("event %d %+v: Update = %v, reference %v", i, e, got, want)
				}
				if i%997 == 0 {
					checkSame(t, s, r)
				}
			}
			checkSame(t, s, r)
		})
	}
}

// TestStateOrderIndependent: the same events in any order and any number
// of deliveries give the same state and hash.
func TestStateOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	evs := genEvents(rng, 3000, 20, 60)
	a := New()
	for _, e := range evs {
		if _, err := a.Update(e); err != nil {
			t.Fatal(err)
		}
	}
	for trial := range 5 {
		shuffled := slices.Clone(evs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:len(shuffled)/3]...) // redelivered
		b := New()
		for _, e := range shuffled {
			if _, err := b.Update(e); err != nil {
				t.Fatal(err)
			}
		}
		if a.Hash() != b.Hash() || a.Len() != b.Len() {
			t.Fatalf("trial %d: %d pairs hash %s, in order %d pairs hash %s", trial, b.Len(), b.Hash(), a.Len(), a.Hash())
		}
		for u := range a.Users() {
			if !slices.Equal(a.Rated(u), b.Rated(u)) {
				t.Fatalf("trial %d: Rated(%s) differs: %v vs %v", trial, u, b.Rated(u), a.Rated(u))
			}
		}
	}
	// A different latest event changes the hash.
	c := New()
	for _, e := range evs {
		c.Update(e) //nolint:errcheck // valid events
	}
	e := evs[0]
	e.TS, e.EventID, e.Value = 1000, "later", 0
	if ok, _ := c.Update(e); !ok || c.Hash() == a.Hash() {
		t.Fatalf("a newer event: Update %v, hash unchanged %v", ok, c.Hash() == a.Hash())
	}
}

// TestTieBreakMatchesOldSemanticsWithoutTies: where no two distinct events
// of a pair share an event time, tie-breaking by hash instead of by id
// changes nothing.
func TestTieBreakMatchesOldSemanticsWithoutTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var evs []Event
	for i := range 4000 {
		evs = append(evs, Event{User: fmt.Sprintf("u%d", rng.IntN(30)), Movie: fmt.Sprintf("m%d", rng.IntN(50)),
			Value: float32(1+rng.IntN(10)) / 2, TS: int64(i), EventID: fmt.Sprintf("e%d", i), Partition: 0, Offset: int64(i)})
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	evs = append(evs, evs[:500]...)
	s, old := New(), newRef(true)
	for _, e := range evs {
		got, _ := s.Update(e)
		if want := old.update(e); got != want {
			t.Fatalf("%+v: Update = %v, old semantics %v", e, got, want)
		}
	}
	checkSame(t, s, old)
}

func TestUpdateRefusesInvalid(t *testing.T) {
	s := New()
	for _, e := range []Event{
		{User: "u", Movie: "m", Value: 4.25, EventID: "a"},
		{User: "u", Movie: "m", Value: -0.5, EventID: "b"},
		{User: "u", Movie: "m", Value: 5.5, EventID: "c"},
		{User: "", Movie: "m", Value: 4, EventID: "d"},
		{User: "u", Movie: "", Value: 4, EventID: "e"},
	} {
		ok, err := s.Update(e)
		if ok || err == nil {
			t.Errorf("Update(%+v) = %v, %v; want an error", e, ok, err)
		}
		if e.User != "" && e.Movie != "" && !errors.Is(err, ErrValue) {
			t.Errorf("Update(%+v): %v, want ErrValue", e, err)
		}
	}
	if s.Len() != 0 || s.NumUsers() != 0 || s.NumMovies() != 0 {
		t.Fatalf("refused events changed the state: %d pairs, %d users", s.Len(), s.NumUsers())
	}
	for _, v := range []float32{0, 0.5, 1, 2.5, 5} {
		if !ValidValue(v) {
			t.Errorf("ValidValue(%v) = false", v)
		}
	}
	// Value 0 is a seen-only entry, held and returned as such.
	if ok, err := s.Update(Event{User: "u", Movie: "m", Value: 0, EventID: "skip"}); !ok || err != nil {
		t.Fatalf("value 0: %v, %v", ok, err)
	}
	if got := s.Rated("u"); len(got) != 1 || got[0] != (Rated{Movie: "m", Value: 0}) {
		t.Fatalf("Rated = %v", got)
	}
}

// TestViewIsConsistent: a view keeps the state as of its export while the
// state changes, read from another goroutine (run with -race).
func TestViewIsConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	evs := genEvents(rng, 20000, 50, 300)
	s, r := New(), newRef(false)
	for _, e := range evs[:10000] {
		s.Update(e) //nolint:errcheck // valid events
		r.update(e)
	}
	want := map[[2]string]float32{}
	for u, um := range r.users {
		for m, e := range um {
			want[[2]string{u, m}] = e.Value
		}
	}
	v := s.Export()
	done := make(chan Columns)
	go func() { done <- v.Columns() }()
	for _, e := range evs[10000:] {
		s.Update(e) //nolint:errcheck // valid events
		r.update(e)
	}
	c := <-done
	if len(c.User) != len(want) || v.Len() != len(want) || v.Hash() == s.Hash() {
		t.Fatalf("view: %d pairs (Len %d), want %d; hash moved with the state: %v", len(c.User), v.Len(), len(want), v.Hash() == s.Hash())
	}
	for i := range c.User {
		k := [2]string{c.UserIDs[c.User[i]], c.MovieIDs[c.Movie[i]]}
		if w, ok := want[k]; !ok || w != c.Value[i] {
			t.Fatalf("view pair %v = %v, at export %v (%v)", k, c.Value[i], w, ok)
		}
		if i > 0 && (c.User[i] < c.User[i-1] || (c.User[i] == c.User[i-1] && c.Movie[i] <= c.Movie[i-1])) {
			t.Fatalf("columns not sorted at %d", i)
		}
	}
	v.Release()
	v.Release()
	if s.views.Load() != 0 {
		t.Fatalf("%d live views after Release", s.views.Load())
	}
	checkSame(t, s, r)
	// After the release the state changes in place again.
	e := evs[0]
	e.TS, e.EventID = 1<<40, "x"
	s.Update(e) //nolint:errcheck // valid
	r.update(e)
	checkSame(t, s, r)
}
