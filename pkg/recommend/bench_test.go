package recommend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// loadShared reads a shared dataset's full ratings file, or skips.
func loadShared(b *testing.B, name string) recommend.TrainSet {
	b.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "datasets", name)
	src, err := dataset.Open(dir)
	if err != nil {
		b.Skipf("%s not present: %v", name, err)
	}
	var ts recommend.TrainSet
	movies, err := src.Movies()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range movies {
		ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags})
	}
	if err := src.Ratings(func(r dataset.Rating) error {
		ts.Interactions = append(ts.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return ts
}

// compactSet generates about n ratings straight into the compact input.
func compactSet(n int) recommend.TrainSet {
	s := dataset.Generate(dataset.SizedConfig(n, 1))
	var r compactRatings
	_ = s.Each(func(x dataset.Rating) error {
		r.add(x.User, x.Movie, x.Value)
		return nil
	})
	ts := recommend.TrainSet{Ratings: r.Ratings}
	for _, m := range s.Catalog {
		ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags})
	}
	return ts
}

// benchData names the data sets of the fit benchmarks: ml-100k and
// ml-latest-small when present, 1M generated ratings, and 10M with
// SWIPEFLIX_BENCH_10M=1.
func benchData(b *testing.B, name string) recommend.TrainSet {
	switch name {
	case "ml-100k", "ml-latest-small":
		return loadShared(b, name)
	case "1M":
		return compactSet(1_000_000)
	case "10M":
		if os.Getenv("SWIPEFLIX_BENCH_10M") == "" {
			b.Skip("set SWIPEFLIX_BENCH_10M=1 for 10M ratings")
		}
		return compactSet(10_000_000)
	case "25M":
		if os.Getenv("SWIPEFLIX_BENCH_25M") == "" {
			b.Skip("set SWIPEFLIX_BENCH_25M=1 for 25M ratings")
		}
		return compactSet(25_000_000)
	}
	b.Fatalf("unknown data %q", name)
	return recommend.TrainSet{}
}

// familyConfig is each family at the settings the search tends to pick.
func familyConfig(f recommend.Family) recommend.Config {
	c := recommend.DefaultConfig()
	c.Family = f
	switch f {
	case recommend.FamilyIALS:
		c.Factors, c.IALSReg, c.IALSUnobserved, c.IALSIters = 64, 0.03, 0.1, 8
	case recommend.FamilyEASE:
		c.EASEReg = 200
	case recommend.FamilyEnsemble: // as the search chose it on ml-100k
		c.Factors, c.IALSReg, c.IALSUnobserved, c.IALSIters = 64, 0.03, 0.1, 8
		c.EASEReg, c.SVDFactors, c.ItemNorm, c.EnsembleWeights = 200, 16, 0.2, [3]float64{0.2, 0.2, 0.6}
	}
	return c
}

// benchFamilies is every family a model can serve.
var benchFamilies = append(append([]recommend.Family(nil), recommend.Families...), recommend.FamilyEnsemble)

// BenchmarkFitFamily fits each family (ranking, rating model and content)
// on each data set, and reports CPU time, the Go heap after the fit, the
// bytes allocated, and the process's peak RSS (VmHWM: meaningful when one
// sub-benchmark runs per process, e.g. -bench 'FitFamily/ease/ml-100k').
func BenchmarkFitFamily(b *testing.B) {
	for _, f := range benchFamilies {
		for _, data := range []string{"ml-100k", "ml-latest-small", "1M", "10M"} {
			b.Run(string(f)+"/"+data, func(b *testing.B) {
				ts := benchData(b, data)
				cfg := familyConfig(f)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.ResetTimer()
				start := cpuTime()
				var m *recommend.Model
				for b.Loop() {
					var err error
					if m, err = recommend.Fit(ts, cfg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e9, "cpu-s/op")
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MiB/fit")
				b.ReportMetric(peakRSS(), "peak-RSS-MiB")
				runtime.KeepAlive(m)
			})
		}
	}
}

// BenchmarkTune runs the whole tuned refit and reports it against a plain
// fit of the winner on the same data (the budget: at most 5x on
// ml-latest-small).
func BenchmarkTune(b *testing.B) {
	for _, data := range []string{"ml-100k", "ml-latest-small", "1M", "10M", "25M"} {
		b.Run(data, func(b *testing.B) {
			ts := benchData(b, data)
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			var m *recommend.Model
			var rep recommend.TuneReport
			for b.Loop() {
				var err error
				if m, rep, err = recommend.Tune(ts, recommend.TuneOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			tuned := float64(cpuTime()-start) / float64(b.N)
			plainStart := cpuTime()
			if _, err := recommend.Fit(ts, m.Config()); err != nil {
				b.Fatal(err)
			}
			plain := float64(cpuTime() - plainStart)
			b.ReportMetric(tuned/1e9, "cpu-s/op")
			b.ReportMetric(plain/1e9, "plain-cpu-s")
			b.ReportMetric(tuned/plain, "x-plain")
			b.ReportMetric(peakRSS(), "peak-RSS-MiB")
			b.Logf("%s", rep)
		})
	}
}

// peakRSS is the process's peak resident set size (VmHWM) in MiB, or 0
// where /proc is not there.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// catalogModel is a model over 10,000 movies, for serving benchmarks.
func catalogModel(b *testing.B) (*recommend.Model, []string) {
	return catalogModelOf(b, recommend.DefaultConfig())
}

func catalogModelOf(b *testing.B, mcfg recommend.Config) (*recommend.Model, []string) {
	cfg := dataset.SynthConfig{Seed: 3, Users: 2000, Movies: 10_000, Ratings: 300_000, MinPerUser: 20}
	ts := synthSet(b, cfg)
	m, err := recommend.Fit(ts, mcfg)
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
// full rating list, as the trainer does) and applies the delta, per family.
func BenchmarkFoldInOneRating(b *testing.B) {
	for _, f := range benchFamilies {
		b.Run(string(f), func(b *testing.B) { benchFoldIn(b, familyConfig(f)) })
	}
}

func benchFoldIn(b *testing.B, cfg recommend.Config) {
	m, users := catalogModelOf(b, cfg)
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

// compactRatings builds the compact input one rating at a time, numbering
// users and movies in the order they first come.
type compactRatings struct {
	recommend.Ratings
	users, movies map[string]int32
}

func (r *compactRatings) add(user, movie string, value float64) {
	if r.users == nil {
		r.users, r.movies = map[string]int32{}, map[string]int32{}
	}
	u, ok := r.users[user]
	if !ok {
		u = int32(len(r.UserIDs))
		r.users[user] = u
		r.UserIDs = append(r.UserIDs, user)
	}
	m, ok := r.movies[movie]
	if !ok {
		m = int32(len(r.MovieIDs))
		r.movies[movie] = m
		r.MovieIDs = append(r.MovieIDs, movie)
	}
	r.User, r.Movie, r.Value = append(r.User, u), append(r.Movie, m), append(r.Value, float32(value))
}
