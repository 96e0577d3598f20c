package drift

import (
	"fmt"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// Position is where an event sits in the log: its partition and offset.
type Position struct {
	Partition int32
	Offset    int64
}

// Coverage is what a model was trained on: for each partition of the log,
// the next offset it has not covered (the trainer's manifest offsets). A
// partition it does not name is not covered at all.
type Coverage map[int32]int64

// Covers reports whether the event at p is below the coverage.
func (c Coverage) Covers(p Position) bool {
	next, ok := c[p.Partition]
	return ok && p.Offset < next
}

// Behind reports whether c covers less than prev on some partition (a
// rollback to an older model): a reference built up to prev then holds
// events that c does not cover, and must be rebuilt rather than extended.
func (c Coverage) Behind(prev Coverage) bool {
	for p, o := range prev {
		if c[p] < o {
			return true
		}
	}
	return false
}

// Record is an event with its position in the log.
type Record struct {
	Pos   Position
	Event events.Event
}

// Sliding is the current window: the last Count records, or the records
// within Span of the newest event time seen, whichever the constructor
// chose.
type Sliding struct {
	count  int
	span   time.Duration
	recs   []Record
	head   int // recs[head:] is the window; the prefix is reclaimed lazily
	newest time.Time
}

// SlidingCount keeps the last n records.
func SlidingCount(n int) (*Sliding, error) {
	if n < 1 {
		return nil, fmt.Errorf("current window: count must be >= 1, got %d", n)
	}
	return &Sliding{count: n}, nil
}

// SlidingSpan keeps the records whose event time is within span of the
// newest event time seen.
func SlidingSpan(span time.Duration) (*Sliding, error) {
	if span <= 0 {
		return nil, fmt.Errorf("current window: span must be > 0, got %s", span)
	}
	return &Sliding{span: span}, nil
}

// Add appends r and evicts what falls out of the window.
func (s *Sliding) Add(r Record) {
	s.recs = append(s.recs, r)
	if r.Event.TS.After(s.newest) {
		s.newest = r.Event.TS
	}
	if s.count > 0 {
		if n := len(s.recs) - s.head; n > s.count {
			s.head += n - s.count
		}
	} else {
		cut := s.newest.Add(-s.span)
		for s.head < len(s.recs) && !s.recs[s.head].Event.TS.After(cut) {
			s.head++
		}
	}
	// Reclaim the evicted prefix once it outweighs the window, so memory
	// stays proportional to the window and copying stays amortised O(1).
	if s.head > 1024 && s.head > len(s.recs)-s.head {
		s.recs = append(s.recs[:0], s.recs[s.head:]...)
		s.head = 0
	}
}

// Retain keeps only the records keep accepts (in order) and returns how
// many it dropped. The service drops the records a new model covers.
func (s *Sliding) Retain(keep func(Record) bool) int {
	w := s.recs[s.head:]
	kept := w[:0]
	for _, r := range w {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	dropped := len(w) - len(kept)
	clear(w[len(kept):]) // release the dropped events' strings
	s.recs = s.recs[:s.head+len(kept)]
	return dropped
}

// Events returns a copy of the window's events, oldest first.
func (s *Sliding) Events() []events.Event {
	out := make([]events.Event, 0, s.Len())
	for _, r := range s.recs[s.head:] {
		out = append(out, r.Event)
	}
	return out
}

// Len is the number of records in the window.
func (s *Sliding) Len() int { return len(s.recs) - s.head }
