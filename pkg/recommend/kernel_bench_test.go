package recommend

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// kernelSizes are the serving benchmarks' catalogs: generated data of
// ml-latest-small's shape (610 users, 9,742 movies, about 100k ratings) and
// the 62,000 movies of issue 12's second target.
var kernelSizes = []struct {
	name string
	cfg  dataset.SynthConfig
}{
	{"9742-movies", dataset.SynthConfig{Seed: 12, Users: 610, Movies: 9742, Ratings: 100_836, MinPerUser: 20, HalfStars: true}},
	{"62000-movies", dataset.SynthConfig{Seed: 12, Users: 5000, Movies: 62_000, Ratings: 600_000, MinPerUser: 20, HalfStars: true}},
}

func kernelBenchModel(b *testing.B, cfg dataset.SynthConfig, mcfg Config) (*Model, []string) {
	b.Helper()
	s := dataset.Generate(cfg)
	var ts TrainSet
	for _, m := range s.Catalog {
		ts.Movies = append(ts.Movies, MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags})
	}
	users := map[string]bool{}
	var ids []string
	if err := s.Each(func(r dataset.Rating) error {
		ts.Interactions = append(ts.Interactions, Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		if !users[r.User] {
			users[r.User] = true
			ids = append(ids, r.User)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	m, err := Fit(ts, mcfg)
	if err != nil {
		b.Fatal(err)
	}
	return m, ids
}

// BenchmarkServingKernel answers top-10 queries of known users in turn
// through Recommend (the kernel) and, for comparison in the same process,
// through the plain scoring path it replaced. Per family where the family
// changes the collaborative loop: PureSVD (20 factors) and iALS (64) take
// the dense product, EASE, item-kNN and popularity their own loops; the
// ensemble (PureSVD 16 + iALS 64 factors in one product, plus EASE) both.
//
//	go test -run '^$' -bench ServingKernel -benchmem ./recommend/
func BenchmarkServingKernel(b *testing.B) {
	for _, size := range kernelSizes {
		for _, f := range []Family{FamilyPureSVD, FamilyIALS, FamilyEASE, FamilyKNN, FamilyPopularity, FamilyEnsemble} {
			b.Run(fmt.Sprintf("%s/%s", size.name, f), func(b *testing.B) {
				if testing.Short() && size.cfg.Movies > 10_000 {
					b.Skip("large catalog skipped in -short")
				}
				cfg := DefaultConfig()
				cfg.Family = f
				switch f {
				case FamilyIALS:
					cfg.Factors = 64
				case FamilyEnsemble: // as the search chose it on ml-100k
					cfg.Factors, cfg.SVDFactors, cfg.EnsembleWeights = 64, 16, [3]float64{0.2, 0.2, 0.6}
				}
				m, users := kernelBenchModel(b, size.cfg, cfg)
				for _, path := range []struct {
					name string
					rec  func(Query) (Result, error)
				}{{"kernel", m.Recommend}, {"plain", m.recommendPlain}} {
					b.Run(path.name, func(b *testing.B) {
						b.ReportAllocs()
						start := cpuTime()
						i := 0
						for b.Loop() {
							if _, err := path.rec(Query{User: users[i%len(users)], K: 10}); err != nil {
								b.Fatal(err)
							}
							i++
						}
						b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
					})
				}
			})
		}
	}
}

// cpuTime is the process's user and system CPU time: on a shared machine
// wall time also counts the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
