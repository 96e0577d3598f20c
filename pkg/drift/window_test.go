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

func TestFirstN(t *testing.T) {
	c, err := FirstN(2)
	if err != nil {
		t.Fatal(err)
	}
	var rest []events.Event
	for i, id := range []string{"a", "b", "c"} {
		e := swipe(id, "u", "m", events.Like, i)
		if taken, _ := c.Offer(e); !taken {
			rest = append(rest, e)
		}
	}
	if !c.Done() || ids(c.Events()) != "ab" || ids(rest) != "c" {
		t.Errorf("done %v reference %q rest %q", c.Done(), ids(c.Events()), ids(rest))
	}
	if _, err := FirstN(0); err == nil {
		t.Error("FirstN(0): no error")
	}
}

func TestPeriod(t *testing.T) {
	c, err := Period(t0.Add(10*time.Second), t0.Add(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var ref, skipped, cur string
	for _, sec := range []int{5, 10, 15, 19, 20, 12} {
		e := swipe(string(rune('0'+sec%10)), "u", "m", events.Like, sec)
		taken, skip := c.Offer(e)
		switch {
		case taken:
			ref += e.EventID
		case skip:
			skipped += e.EventID
		default:
			cur += e.EventID
		}
	}
	// 5 precedes the period; 10, 15, 19 are in it; 20 closes it and the
	// late 12 goes to the current window.
	if ref != "059" || skipped != "5" || cur != "02" || !c.Done() {
		t.Errorf("reference %q skipped %q current %q done %v", ref, skipped, cur, c.Done())
	}
	if _, err := Period(t0, t0); err == nil {
		t.Error("empty period: no error")
	}
}

func TestSlidingCount(t *testing.T) {
	s, err := SlidingCount(3)
	if err != nil {
		t.Fatal(err)
	}
	var evicted string
	for i := range 3000 {
		evicted += ids(s.Add(swipe(string(rune('a'+i%26)), "u", "m", events.Like, i)))
	}
	if s.Len() != 3 || ids(s.Events()) != "hij" || len(evicted) != 2997 {
		t.Errorf("window %q (len %d), evicted %d", ids(s.Events()), s.Len(), len(evicted))
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
		s.Add(swipe(string(rune('a'+sec)), "u", "m", events.Like, sec))
	}
	// Newest is 20 s: events at or before 10 s are out.
	if got := ids(s.Events()); got != "mu" {
		t.Errorf("window %q, want events at 12 s and 20 s", got)
	}
	if _, err := SlidingSpan(0); err == nil {
		t.Error("SlidingSpan(0): no error")
	}
}
