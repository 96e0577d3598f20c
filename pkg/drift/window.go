package drift

import (
	"fmt"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// ReferenceCollector gathers the reference window from the head of the
// stream: either the first N events, or the events whose event time falls
// in [From, To). Events it does not take belong to the current window.
type ReferenceCollector struct {
	n        int
	from, to time.Time
	evs      []events.Event
	done     bool
}

// FirstN collects the first n events as the reference.
func FirstN(n int) (*ReferenceCollector, error) {
	if n < 1 {
		return nil, fmt.Errorf("reference window: first N must be >= 1, got %d", n)
	}
	return &ReferenceCollector{n: n}, nil
}

// Period collects the events with from <= ts < to as the reference. The
// window closes at the first event at or after to (the log is roughly in
// event-time order per partition; an event older than to that arrives
// after that is counted in the current window).
func Period(from, to time.Time) (*ReferenceCollector, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("reference window: period start %s is not before its end %s",
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return &ReferenceCollector{from: from, to: to}, nil
}

// Offer hands the collector the next event. It reports whether the event
// was taken into the reference; an event it does not take goes to the
// current window (events before a period's start are neither: skip reports
// true for them).
func (c *ReferenceCollector) Offer(e events.Event) (taken, skip bool) {
	if c.done {
		return false, false
	}
	if c.n > 0 {
		c.evs = append(c.evs, e)
		c.done = len(c.evs) >= c.n
		return true, false
	}
	switch {
	case e.TS.Before(c.from):
		return false, true
	case e.TS.Before(c.to):
		c.evs = append(c.evs, e)
		return true, false
	default:
		c.done = true
		return false, false
	}
}

// Done reports whether the reference window is complete.
func (c *ReferenceCollector) Done() bool { return c.done }

// Events returns the reference events collected so far.
func (c *ReferenceCollector) Events() []events.Event { return c.evs }

// Sliding is the current window: the last Count events, or the events
// within Span of the newest event time seen, whichever the constructor
// chose.
type Sliding struct {
	count  int
	span   time.Duration
	evs    []events.Event
	head   int // evs[head:] is the window; the prefix is reclaimed lazily
	newest time.Time
}

// SlidingCount keeps the last n events.
func SlidingCount(n int) (*Sliding, error) {
	if n < 1 {
		return nil, fmt.Errorf("current window: count must be >= 1, got %d", n)
	}
	return &Sliding{count: n}, nil
}

// SlidingSpan keeps the events whose event time is within span of the
// newest event time seen.
func SlidingSpan(span time.Duration) (*Sliding, error) {
	if span <= 0 {
		return nil, fmt.Errorf("current window: span must be > 0, got %s", span)
	}
	return &Sliding{span: span}, nil
}

// Add appends e and evicts what falls out of the window. It returns the
// evicted events (valid until the next call), so a caller can keep the
// history of ids seen.
func (s *Sliding) Add(e events.Event) []events.Event {
	s.evs = append(s.evs, e)
	if e.TS.After(s.newest) {
		s.newest = e.TS
	}
	start := s.head
	if s.count > 0 {
		if n := len(s.evs) - s.head; n > s.count {
			s.head += n - s.count
		}
	} else {
		cut := s.newest.Add(-s.span)
		for s.head < len(s.evs) && !s.evs[s.head].TS.After(cut) {
			s.head++
		}
	}
	out := s.evs[start:s.head]
	// Reclaim the evicted prefix once it outweighs the window, so memory
	// stays proportional to the window and copying stays amortised O(1).
	if s.head > 1024 && s.head > len(s.evs)-s.head {
		gone := append([]events.Event(nil), out...)
		s.evs = append(s.evs[:0], s.evs[s.head:]...)
		s.head = 0
		return gone
	}
	return out
}

// Events returns the window's events, oldest first. The slice is valid
// until the next Add.
func (s *Sliding) Events() []events.Event { return s.evs[s.head:] }

// Len is the number of events in the window.
func (s *Sliding) Len() int { return len(s.evs) - s.head }
