package drift

import (
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

func ids(evs []events.Event) string {
	s := ""
	for _, e := range evs {
		s += e.EventID
	}
	return s
}

func rec(partition int32, offset int64, e events.Event) Record {
	return Record{Pos: Position{Partition: partition, Offset: offset}, Event: e}
}

func TestSlidingCount(t *testing.T) {
	s, err := SlidingCount(3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		s.Add(rec(0, int64(i), swipe(string(rune('a'+i%26)), "u", "m", events.Like, i)))
	}
	if s.Len() != 3 || ids(s.Events()) != "hij" {
		t.Errorf("window %q (len %d)", ids(s.Events()), s.Len())
	}
	if _, err := SlidingCount(0); err == nil {
		t.Error("SlidingCount(0): no error")
	}
}

func TestSlidingSpan(t *testing.T) {
	s, err := SlidingSpan(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []int{0, 5, 9, 12, 20} {
		s.Add(rec(0, int64(sec), swipe(string(rune('a'+sec)), "u", "m", events.Like, sec)))
	}
	// Newest is 20 s: events at or before 10 s are out.
	if got := ids(s.Events()); got != "mu" {
		t.Errorf("window %q, want events at 12 s and 20 s", got)
	}
	if _, err := SlidingSpan(0); err == nil {
		t.Error("SlidingSpan(0): no error")
	}
}

// TestSlidingRetainCoverage: when a model covers part of the current
// window, those records leave it and the window refills with new ones.
func TestSlidingRetainCoverage(t *testing.T) {
	s, err := SlidingCount(4)
	if err != nil {
		t.Fatal(err)
	}
	// Partition 0 offsets 0..2 (a, b, c), partition 1 offsets 0..2 (d, e, f),
	// interleaved as a group consumer reads them.
	for i, id := range []string{"a", "d", "b", "e", "c", "f"} {
		s.Add(rec(int32(i%2), int64(i/2), swipe(id, "u", "m", events.Like, i)))
	}
	if got := ids(s.Events()); got != "becf" {
		t.Fatalf("window %q, want the last four", got)
	}
	cov := Coverage{0: 2, 1: 1} // a, b and d are covered
	if dropped := s.Retain(func(r Record) bool { return !cov.Covers(r.Pos) }); dropped != 1 || ids(s.Events()) != "ecf" {
		t.Errorf("after coverage: dropped %d, window %q; want 1 and \"ecf\"", dropped, ids(s.Events()))
	}
	s.Add(rec(0, 3, swipe("g", "u", "m", events.Like, 9)))
	s.Add(rec(0, 4, swipe("h", "u", "m", events.Like, 10)))
	if got := ids(s.Events()); got != "cfgh" || s.Len() != 4 {
		t.Errorf("refilled window %q (len %d), want \"cfgh\"", got, s.Len())
	}
}

func TestCoverage(t *testing.T) {
	c := Coverage{0: 10, 2: 5}
	for _, tc := range []struct {
		p    Position
		want bool
	}{{Position{0, 9}, true}, {Position{0, 10}, false}, {Position{1, 0}, false}, {Position{2, 4}, true}} {
		if got := c.Covers(tc.p); got != tc.want {
			t.Errorf("Covers(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if c.Behind(Coverage{0: 10}) || !c.Behind(Coverage{0: 11}) || !c.Behind(Coverage{1: 1}) || c.Behind(nil) {
		t.Error("Behind: a coverage is behind another when it covers less on some partition")
	}
}
