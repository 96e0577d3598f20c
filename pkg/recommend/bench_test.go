package recommend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// synthSet generates a training set of about n ratings with the dataset
// package's seeded generator.
func synthSet(tb testing.TB, cfg dataset.SynthConfig) recommend.TrainSet {
	tb.Helper()
	s := dataset.Generate(cfg)
	var ts recommend.TrainSet
	for _, m := range s.Catalog {
		ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags})
	}
	err := s.Each(func(r dataset.Rating) error {
		ts.Interactions = append(ts.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// BenchmarkFitML100KFold fits the served model on ml-100k's u1.base.
func BenchmarkFitML100KFold(b *testing.B) {
	path := filepath.Join("..", "..", "..", "shared", "datasets", "ml-100k", "u1.base")
	if _, err := os.Stat(path); err != nil {
		b.Skip("ml-100k not present")
	}
	var ts recommend.TrainSet
	err := dataset.ReadRatings(path, func(r dataset.Rating) error {
		ts.Interactions = append(ts.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		if _, err := recommend.Fit(ts, recommend.DefaultConfig()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFit fits on synthetic data of growing size and reports the Go
// heap in use right after the fit and the bytes allocated during it.
func BenchmarkFit(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if os.Getenv("SWIPEFLIX_BENCH_10M") != "" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("ratings=%d", n), func(b *testing.B) {
			ts := synthSet(b, dataset.SizedConfig(n, 1))
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			start := cpuTime()
			var m *recommend.Model
			for b.Loop() {
				var err error
				if m, err = recommend.Fit(ts, recommend.DefaultConfig()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MiB/fit")
			runtime.KeepAlive(m)
		})
	}
}

// catalogModel is a model over 10,000 movies, for serving benchmarks.
func catalogModel(b *testing.B) (*recommend.Model, []string) {
	cfg := dataset.SynthConfig{Seed: 3, Users: 2000, Movies: 10_000, Ratings: 300_000, MinPerUser: 20}
	ts := synthSet(b, cfg)
	m, err := recommend.Fit(ts, recommend.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	if got := m.Stats().Movies; got != 10_000 {
		b.Fatalf("model has %d movies, want 10000", got)
	}
	users := map[string]bool{}
	var ids []string
	for _, it := range ts.Interactions {
		if !users[it.User] {
			users[it.User] = true
			ids = append(ids, it.User)
		}
	}
	return m, ids
}

// BenchmarkRecommendTop10 answers one top-10 query over 10,000 movies.
func BenchmarkRecommendTop10(b *testing.B) {
	m, users := catalogModel(b)
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	i := 0
	for b.Loop() {
		if _, err := m.Recommend(recommend.Query{User: users[i%len(users)], K: 10}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFoldInOneRating folds one new rating into a known user (their
// full rating list, as the trainer does) and applies the delta.
func BenchmarkFoldInOneRating(b *testing.B) {
	m, users := catalogModel(b)
	rated := make(map[string][]recommend.Rated)
	res, _ := m.Recommend(recommend.Query{User: users[0], K: 200})
	for u := range 50 {
		for j := range 60 { // a typical user: 60 ratings
			rated[users[u]] = append(rated[users[u]], recommend.Rated{Movie: res.Items[(u+j)%200].MovieID, Value: 4})
		}
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	i := 0
	for b.Loop() {
		u := users[i%50]
		d := m.FoldUser(u, rated[u])
		if err := m.Apply(recommend.Delta{BaseVersion: m.Version, Users: []recommend.UserDelta{d}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// cpuTime is the process's user+system CPU time. Benchmarks report it per
// operation next to wall time, because on a shared machine wall time also
// counts time spent waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
