package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

// benchEngines are the stores every benchmark runs on.
var benchEngines = []struct {
	name string
	open func(testing.TB) *store.Store
}{{"sqlite", storetest.OpenSQLite}, {"postgres", openPostgres}}

// BenchmarkUpsertMovies loads ml-latest-small's catalog (9,742 movies with
// their tags): "insert" into an empty database, "update" over a loaded one.
func BenchmarkUpsertMovies(b *testing.B) {
	movies, err := dataset.ReadCatalog(datasettest.Dir(b, "ml-latest-small"))
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range benchEngines {
		b.Run(e.name+"/insert", func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := e.open(b)
				b.StartTimer()
				if err := s.UpsertMovies(context.Background(), movies); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(movies)), "movies/op")
		})
		b.Run(e.name+"/update", func(b *testing.B) {
			s := e.open(b)
			if err := s.UpsertMovies(context.Background(), movies); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := s.UpsertMovies(context.Background(), movies); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(movies)), "movies/op")
		})
	}
}

// BenchmarkRegisterPromote is the trainer's write path per published model.
func BenchmarkRegisterPromote(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			v := int64(0)
			for range b.N {
				v++
				if err := s.Register(ctx, storetest.Record(v)); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Promote(ctx, v, "bench", fmt.Sprint(v)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadCatalog is the catalog client command end to end: read
// ml-latest-small's movies.csv and tags.csv, then upsert (over a loaded
// catalog after the first iteration).
func BenchmarkLoadCatalog(b *testing.B) {
	dir := datasettest.Dir(b, "ml-latest-small")
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			for range b.N {
				if _, err := s.LoadCatalog(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
