package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// sharedStarter is where `make run` looks for real data: the MovieLens
// folder beside the repository (never committed: its licence forbids it).
const sharedStarter = "../shared/datasets/ml-latest-small"

// sampleRatings is the size of the generated sample used when no real data
// is present.
const sampleRatings = 20000

// resolveStarter turns the -starter value into the ratings file to publish
// and the dataset folder whose movies make the catalog ("" when the value is
// a bare ratings file). "auto" picks the shared folder when present, else
// writes generated sample data (seeded, in the MovieLens CSV layout) under
// dataDir/sample once and uses that.
func resolveStarter(value, shared, dataDir string) (ratings, catalogDir string, err error) {
	if value == "auto" {
		value = shared
		if _, err := os.Stat(value); err != nil {
			value = filepath.Join(dataDir, "sample")
			if _, err := os.Stat(filepath.Join(value, "ratings.csv")); err != nil {
				syn := dataset.Generate(dataset.SizedConfig(sampleRatings, 1))
				if err := syn.WriteDir(value, dataset.CSV); err != nil {
					return "", "", fmt.Errorf("starter: write sample data: %w", err)
				}
			}
		}
	}
	st, err := os.Stat(value)
	if err != nil {
		return "", "", fmt.Errorf("starter: %w", err)
	}
	if !st.IsDir() {
		return value, "", nil
	}
	src, err := dataset.Open(value)
	if err != nil {
		return "", "", fmt.Errorf("starter: %w", err)
	}
	return src.RatingsPath, value, nil
}

// starterLoader publishes a ratings file once, through the same path as
// `swipeflix publish`, when the process starts. It is the hook for `make
// run`'s starter data: a marker in the data dir keeps a restart from
// publishing the file again (a second publish would be harmless, the event
// ids being deterministic, but slow). Loading the catalog belongs to the
// trainer and api, which read the movies file themselves.
type starterLoader struct {
	path    string
	brokers func() []string // the graph's, once module kafka started
	dataDir string
	log     *slog.Logger
	out     io.Writer
}

func (s starterLoader) Run(ctx context.Context) error {
	marker := filepath.Join(s.dataDir, "starter-published")
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return fmt.Errorf("starter %s: %w", s.path, err)
	}
	if prev, err := os.ReadFile(marker); err == nil && bytes.Equal(bytes.TrimSpace(prev), []byte(abs)) {
		s.log.Info("starter data already published", "file", abs)
		return svcmain.ErrDone
	}
	pub := newPublisher(s.brokers(), 0)
	defer pub.close()
	pub.warn = s.out
	err = pub.dataset(ctx, s.path, "starter")
	if ferr := pub.flush(ctx); err == nil {
		err = ferr
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("starter %s: %w", s.path, err)
	}
	s.log.Info("starter data published", "file", abs, "events", pub.sent, "invalid", pub.bad)
	fmt.Fprintf(s.out, "starter data: %d events from %s\n", pub.sent, abs)
	if err := os.WriteFile(marker, []byte(abs+"\n"), 0o644); err != nil {
		return fmt.Errorf("starter marker: %w", err)
	}
	return svcmain.ErrDone
}
