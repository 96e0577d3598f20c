package drift

import (
	"container/heap"
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// Sampler draws the reference from the events it is given (for the
// service: every event the serving model was trained on), in bounded
// memory:
//
//   - a uniform sample without replacement of at most K events: the K
//     events with the smallest seeded hash of their event id (bottom-k
//     sampling). The sample depends only on the set of events and the
//     seed, not on the order they come in, how the log is partitioned, or
//     how often an event is offered: a replayed or re-read event is the
//     same event, and a restart that re-derives the reference from the log
//     gets the same sample;
//   - the "known half": a second seeded hash of the event id puts every
//     event in one of two halves. Over all events of the known half (not
//     only the sampled ones) it counts the events of each user and each
//     movie. The other half is the measuring half: its sampled events give
//     the reference values of the features that depend on those counts
//     (movie_popularity, user_activity, new_users, new_movies), so that
//     reference and current are two independent samples given the counts
//     (see NewReference).
//
// Memory: K events, plus one counter per distinct user and movie of the
// known half (bounded by the user base and the catalog, not by the log).
type Sampler struct {
	k, seed uint64
	heap    sampleHeap
	inHeap  map[string]struct{} // event ids in the heap
	users   map[string]int
	movies  map[string]int
	window  WindowInfo
}

// sampled is one event with its sampling key and half.
type sampled struct {
	key   uint64
	known bool
	ev    events.Event
}

// less orders by key, then by event id, so that equal keys (distinct ids
// hashing alike) still give one order.
func (a sampled) less(b sampled) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.ev.EventID < b.ev.EventID
}

// sampleHeap is a max-heap: its root is the largest key kept, the first to
// go when a smaller one arrives.
type sampleHeap []sampled

func (h sampleHeap) Len() int           { return len(h) }
func (h sampleHeap) Less(i, j int) bool { return h[j].less(h[i]) }
func (h sampleHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sampleHeap) Push(x any)        { *h = append(*h, x.(sampled)) }
func (h *sampleHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewSampler keeps a sample of at most k events; seed fixes which ones and
// the halves.
func NewSampler(k int, seed uint64) (*Sampler, error) {
	if k < 1 {
		return nil, fmt.Errorf("reference sample: size must be >= 1, got %d", k)
	}
	return &Sampler{k: uint64(k), seed: seed, inHeap: make(map[string]struct{}, k),
		users: map[string]int{}, movies: map[string]int{}}, nil
}

// sampleKeys returns the event's sampling key and whether it falls in the
// known half: two independent seeded hashes of its id.
func sampleKeys(eventID string, seed uint64) (key uint64, known bool) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(eventID)) // a hash.Hash never fails to write
	x := h.Sum64() ^ seed
	return mix64(x), mix64(x^0x9e3779b97f4a7c15)&1 == 0
}

// mix64 is splitmix64's finaliser: it spreads FNV's low-entropy high bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Add offers one event. The known half's counts count every event offered,
// so an event offered twice counts twice there (the sample keeps it once);
// the service offers each log position once.
func (s *Sampler) Add(e events.Event) {
	key, known := sampleKeys(e.EventID, s.seed)
	s.window.add(e)
	if known {
		s.users[e.UserID]++
		s.movies[e.MovieID]++
	}
	x := sampled{key: key, known: known, ev: e}
	full := uint64(len(s.heap)) >= s.k
	if full && !x.less(s.heap[0]) {
		return // not among the k smallest (nor already kept: those are smaller)
	}
	if _, dup := s.inHeap[e.EventID]; dup {
		return
	}
	s.inHeap[e.EventID] = struct{}{}
	if !full {
		heap.Push(&s.heap, x)
		return
	}
	delete(s.inHeap, s.heap[0].ev.EventID)
	s.heap[0] = x
	heap.Fix(&s.heap, 0)
}

// Population is the number of events offered so far.
func (s *Sampler) Population() int { return s.window.Population }

// Reference profiles the sample and the counts so far, with popularity
// buckets (see Config.PopularityBuckets). It copies what it needs: the
// sampler can go on taking events. It returns nil before the first event.
func (s *Sampler) Reference(buckets int) *Reference {
	if len(s.heap) == 0 {
		return nil
	}
	sample := append([]sampled(nil), s.heap...)
	sort.Slice(sample, func(i, j int) bool { return sample[i].less(sample[j]) })
	r := &Reference{Window: s.window, buckets: buckets,
		users:  make(map[string]int, len(s.users)),
		bucket: popularityBuckets(s.movies, buckets)}
	r.Window.Events = len(sample)
	for u, n := range s.users {
		r.users[u] = n
	}
	for _, x := range sample {
		r.sample = append(r.sample, x.ev)
		if !x.known {
			r.measured = append(r.measured, x.ev)
		}
	}
	return r
}

// add extends the window's event-time span and population by e.
func (w *WindowInfo) add(e events.Event) {
	if w.Population == 0 || e.TS.Before(w.From) {
		w.From = e.TS
	}
	if w.Population == 0 || e.TS.After(w.To) {
		w.To = e.TS
	}
	w.Population++
}

// popularityBuckets puts each movie of counts (events per movie) into one
// of n buckets by the share of events, most popular first. Movies are
// ranked by count; a group of movies with the same count goes, whole, to
// the bucket where its events start: bucket i (1..n) holds the movies whose
// events start within the i-th n-th of all events. With n = 10 these are
// deciles of the event mass: q1 holds the blockbusters that make the first
// tenth of the events, q10 the long tail. A group is never split (its
// movies are equally popular), so with few movies some buckets stay empty.
func popularityBuckets(counts map[string]int, n int) map[string]int {
	var total int
	byCount := map[int][]string{}
	for m, c := range counts {
		if c > 0 {
			total += c
			byCount[c] = append(byCount[c], m)
		}
	}
	levels := make([]int, 0, len(byCount))
	for c := range byCount {
		levels = append(levels, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(levels)))
	out := make(map[string]int, len(counts))
	cum := 0
	for _, c := range levels {
		b := min(n, n*cum/total+1)
		for _, m := range byCount[c] {
			out[m] = b
		}
		cum += c * len(byCount[c])
	}
	return out
}
