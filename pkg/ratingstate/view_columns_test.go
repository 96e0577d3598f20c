package ratingstate

import (
	"math/rand/v2"
	"testing"
)

// Columns carries each pair's event time, the same as Each's entries.
func TestColumnsCarryTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	s := New()
	for _, e := range genEvents(rng, 3000, 40, 120) {
		s.Update(e) //nolint:errcheck // valid events
	}
	v := s.Export()
	defer v.Release()
	c := v.Columns()
	var entries []Entry
	v.Each(func(e Entry) bool { entries = append(entries, e); return true })
	if len(c.TS) != len(entries) || len(c.TS) != v.Len() {
		t.Fatalf("%d times for %d entries (Len %d)", len(c.TS), len(entries), v.Len())
	}
	for i, e := range entries {
		if c.User[i] != e.User || c.Movie[i] != e.Movie || c.TS[i] != e.TS {
			t.Fatalf("column %d: user %d movie %d time %d; entry %+v", i, c.User[i], c.Movie[i], c.TS[i], e)
		}
	}
}
