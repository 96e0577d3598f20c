// Package datasettest finds the MovieLens folders that real-data tests and
// benchmarks read: ../shared/datasets/<name> from the repository root (the
// folder holding go.work). They are never committed; a test skips when its
// folder is absent.
package datasettest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// Dir returns the folder of dataset name, or skips tb when the repository
// root or the folder is not found.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root (go.work) not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "datasets", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("dataset %s absent: %v", name, err)
	}
	return p
}

// Open opens dataset name (see Dir).
func Open(tb testing.TB, name string) *dataset.Source {
	tb.Helper()
	src, err := dataset.Open(Dir(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// Load reads dataset name's catalog (tags merged in, as Source.Movies) and
// every rating in file order.
func Load(tb testing.TB, name string) ([]dataset.Movie, []dataset.Rating) {
	tb.Helper()
	src := Open(tb, name)
	movies, err := src.Movies()
	if err != nil {
		tb.Fatal(err)
	}
	ratings, err := src.LoadAll()
	if err != nil {
		tb.Fatal(err)
	}
	return movies, ratings
}
