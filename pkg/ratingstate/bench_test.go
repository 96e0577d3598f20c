package ratingstate

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// benchFixture is 1M generated ratings in ml-1m's shape (6,040 users,
// 3,706 movies), as events, built once per test binary: generating them
// takes seconds.
var benchFixture = sync.OnceValue(func() []Event {
	syn := dataset.Generate(dataset.SynthConfig{Seed: 1, Users: 6_040, Movies: 3_706, Ratings: 1_000_209,
		MinPerUser: 20, HalfStars: true})
	evs := make([]Event, 0, syn.Config.Ratings)
	var next [8]int64
	_ = syn.Each(func(r dataset.Rating) error {
		h := fnv.New32a()
		h.Write([]byte(r.User))
		p := h.Sum32() % 8
		evs = append(evs, Event{User: r.User, Movie: r.Movie, Value: float32(r.Value), TS: r.Time * int64(time.Second),
			EventID: "e" + strconv.Itoa(len(evs)), Partition: int32(p), Offset: next[p]})
		next[p]++
		return nil
	})
	return evs
})

// benchState is a state holding the fixture.
func benchState(b *testing.B) *State {
	b.Helper()
	s := New()
	for _, e := range benchFixture() {
		if _, err := s.Update(e); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkUpdate: one event into a state growing to 1M pairs (new pairs),
// into a 1M-pair state (re-ratings that replace), and a duplicate delivery.
func BenchmarkUpdate(b *testing.B) {
	evs := benchFixture()
	b.Run("new-pair", func(b *testing.B) {
		s := New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%len(evs) == 0 && i > 0 {
				b.StopTimer()
				s = New()
				b.StartTimer()
			}
			s.Update(evs[i%len(evs)]) //nolint:errcheck // valid events
		}
	})
	b.Run("re-rating", func(b *testing.B) {
		s := benchState(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e := evs[i%len(evs)]
			e.TS += int64(1+i/len(evs)) * int64(time.Hour)
			e.Value = float32(1+i%10) / 2
			if ok, _ := s.Update(e); !ok {
				b.Fatal("a newer event changed nothing")
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		s := benchState(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if ok, _ := s.Update(evs[i%len(evs)]); ok {
				b.Fatal("a duplicate changed the state")
			}
		}
	})
}

// BenchmarkRead: a random user's ratings and a random movie's raters in a
// 1M-pair state, by index (allocation-free) and by id (sorted as strings).
func BenchmarkRead(b *testing.B) {
	s := benchState(b)
	rng := rand.New(rand.NewPCG(1, 1))
	b.Run("RatedIndex", func(b *testing.B) {
		var dst []MovieValue
		b.ReportAllocs()
		for b.Loop() {
			dst = s.RatedIndex(int32(rng.IntN(s.NumUsers())), dst)
		}
	})
	b.Run("Rated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Rated(s.UserID(int32(rng.IntN(s.NumUsers()))))
		}
	})
	b.Run("RatersIndex", func(b *testing.B) {
		var dst []UserValue
		b.ReportAllocs()
		for b.Loop() {
			dst = s.RatersIndex(int32(rng.IntN(s.NumMovies())), dst)
		}
	})
	b.Run("Raters", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Raters(s.MovieID(int32(rng.IntN(s.NumMovies()))))
		}
	})
}

// BenchmarkExport: the loop's share of a refit's copy (Export, O(users)),
// and the refit goroutine's columnar copy of 1M pairs.
func BenchmarkExport(b *testing.B) {
	s := benchState(b)
	b.Run("Export", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Export().Release()
		}
	})
	b.Run("Columns", func(b *testing.B) {
		v := s.Export()
		defer v.Release()
		b.ReportAllocs()
		for b.Loop() {
			v.Columns()
		}
	})
}

// BenchmarkAppend: a checkpoint segment of 10,000 changed pairs (re-ratings
// in a 1M-pair state): TakeDelta in the loop, then Append (encode, write,
// fsync) in the writer.
func BenchmarkAppend(b *testing.B) {
	evs := benchFixture()
	st, s := openFixture(b)
	d, _ := s.TakeDelta(nil, 0)
	if err := st.Append(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	offsets := map[int32]int64{0: 1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for j := range 10_000 {
			e := evs[(i*10_000+j)%len(evs)]
			e.TS += int64(1+i) * int64(time.Hour)
			s.Update(e) //nolint:errcheck // valid events
		}
		b.StartTimer()
		d, err := s.TakeDelta(offsets, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Append(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad: opening a checkpoint of 1M pairs, as a compacted base,
// and as a base plus ten segments of 10,000 changes.
func BenchmarkLoad(b *testing.B) {
	evs := benchFixture()
	for _, segs := range []int{0, 10} {
		b.Run("segments="+strconv.Itoa(segs), func(b *testing.B) {
			dir := b.TempDir()
			st, ld, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s := ld.State
			for _, e := range evs {
				s.Update(e) //nolint:errcheck // valid events
			}
			d, _ := s.TakeDelta(nil, 0)
			ctx := context.Background()
			if err := st.Append(ctx, d); err != nil {
				b.Fatal(err)
			}
			if err := st.Compact(ctx); err != nil {
				b.Fatal(err)
			}
			for i := range segs {
				for j := range 10_000 {
					e := evs[(i*10_000+j)%len(evs)]
					e.TS += int64(time.Hour)
					s.Update(e) //nolint:errcheck // valid events
				}
				d, _ := s.TakeDelta(nil, 0)
				if err := st.Append(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
			b.ReportAllocs()
			for b.Loop() {
				st, ld, err := Open(dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if ld.State.Len() != s.Len() {
					b.Fatalf("loaded %d pairs, want %d", ld.State.Len(), s.Len())
				}
				st.Close()
			}
		})
	}
}

// BenchmarkCompact: merging a 1M-pair base and ten segments into a new
// base.
func BenchmarkCompact(b *testing.B) {
	evs := benchFixture()
	st, s := openFixture(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for k := range 10 {
			for j := range 10_000 {
				e := evs[((i*10+k)*10_000+j)%len(evs)]
				e.TS += int64(1+i) * int64(time.Hour)
				s.Update(e) //nolint:errcheck // valid events
			}
			d, _ := s.TakeDelta(nil, 0)
			if err := st.Append(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := st.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// openFixture opens a store in a temporary folder, closed by b.Cleanup,
// and applies the benchmark fixture's events to its state.
func openFixture(b *testing.B) (*Store, *State) {
	b.Helper()
	st, ld, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	s := ld.State
	for _, e := range benchFixture() {
		s.Update(e) //nolint:errcheck // valid events
	}
	return st, s
}
