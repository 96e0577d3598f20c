package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// MovieLens-25M's shape: the sizes generate scales its defaults from.
const (
	ml25mRatings = 25_000_095
	ml25mUsers   = 162_541
	ml25mMovies  = 62_423
)

// Floors of the default shape. Below about 400,000 ratings MovieLens-25M's
// proportions give a catalog too small for the users' rating counts, so
// small datasets keep at least this many movies and users.
const (
	minDefaultMovies = 1000
	minDefaultUsers  = 10
	// maxMinPerUser is the fewest ratings a user has, as MovieLens keeps
	// only users with at least 20 (fewer when the ratings are too few).
	maxMinPerUser = 20
)

// generateManifest is the file generate writes last, naming what the
// folder holds: a folder with a matching manifest is complete, so
// bench-scale can reuse it.
const generateManifest = "generate.json"

// genSpec is what `swipeflix generate` writes.
type genSpec struct {
	Ratings int    `json:"ratings"`
	Users   int    `json:"users"`
	Movies  int    `json:"movies"`
	Seed    uint64 `json:"seed"`
}

// shape fills Users and Movies left at zero in proportion to
// MovieLens-25M, and checks that the sizes make a dataset: every user rates
// at least one movie and at most half the catalog (the generator's cap).
func (g genSpec) shape() (genSpec, error) {
	if g.Ratings <= 0 {
		return g, fmt.Errorf("generate: -ratings must be > 0, got %d", g.Ratings)
	}
	if g.Users < 0 || g.Movies < 0 {
		return g, fmt.Errorf("generate: -users and -movies must be >= 0 (0: in proportion to MovieLens-25M), got %d and %d", g.Users, g.Movies)
	}
	scale := float64(g.Ratings) / ml25mRatings
	if g.Users == 0 {
		g.Users = max(minDefaultUsers, int(math.Round(scale*ml25mUsers)))
	}
	if g.Movies == 0 {
		g.Movies = max(minDefaultMovies, int(math.Round(scale*ml25mMovies)))
	}
	if g.Ratings < g.Users {
		return g, fmt.Errorf("generate: %d ratings are too few for %d users (each rates at least one movie); lower -users", g.Ratings, g.Users)
	}
	if most := g.Users * max(1, g.Movies/2); g.Ratings > most {
		return g, fmt.Errorf("generate: %d ratings are too many for %d users and %d movies (each user rates at most half the catalog: %d in all); raise -users or -movies",
			g.Ratings, g.Users, g.Movies, most)
	}
	return g, nil
}

// synthConfig is the generator's configuration for g: half-star ratings
// as in MovieLens-25M, and the generator's defaults for the rest.
func (g genSpec) synthConfig() dataset.SynthConfig {
	return dataset.SynthConfig{Seed: g.Seed, Ratings: g.Ratings, Users: g.Users, Movies: g.Movies,
		MinPerUser: max(1, min(maxMinPerUser, g.Ratings/g.Users)), HalfStars: true}
}

// runGenerate is `swipeflix generate -ratings N [-users U -movies M -seed S]
// -out DIR`.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("generate", "generate -ratings N [-users U] [-movies M] [-seed S] -out DIR", stderr)
	var g genSpec
	fs.IntVar(&g.Ratings, "ratings", 0, "ratings to write (required)")
	fs.IntVar(&g.Users, "users", 0, "users (0: in proportion to MovieLens-25M's 162,541 per 25M ratings, at least 10)")
	fs.IntVar(&g.Movies, "movies", 0, "movies (0: in proportion to MovieLens-25M's 62,423 per 25M ratings, at least 1,000)")
	fs.Uint64Var(&g.Seed, "seed", 1, "random seed: the same flags and seed write the same bytes")
	out := fs.String("out", "", "folder to write ratings.csv, movies.csv and tags.csv into (required; created if missing)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("generate: -out DIR is required")
	}
	g, err := g.shape()
	if err != nil {
		return err
	}
	start := time.Now()
	tags, err := generateDir(ctx, g, *out, stderr, *quiet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d ratings (%d users, %d movies, seed %d) and %d tags to %s in %.1fs\n",
		g.Ratings, g.Users, g.Movies, g.Seed, tags, *out, time.Since(start).Seconds())
	return nil
}

// generateDir writes the dataset of g into dir in the MovieLens CSV layout,
// streaming the ratings (only the users active at one time are in memory),
// with a progress bar on stderr unless quiet. Each file is written under a
// temporary name and renamed when complete; the manifest goes last. It
// returns the number of tags written.
func generateDir(ctx context.Context, g genSpec, dir string, stderr io.Writer, quiet bool) (int, error) {
	syn := dataset.Generate(g.synthConfig())
	if syn.Config.Ratings != g.Ratings || syn.Config.Users != g.Users || syn.Config.Movies != g.Movies {
		return 0, fmt.Errorf("generate: the generator adjusted the sizes to %d ratings, %d users, %d movies",
			syn.Config.Ratings, syn.Config.Users, syn.Config.Movies)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("generate: %w", err)
	}
	// A stale manifest must not vouch for the files about to be replaced.
	if err := os.Remove(filepath.Join(dir, generateManifest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("generate: %w", err)
	}
	var bar *progress
	if !quiet {
		bar = startProgress(stderr)
		bar.setTotal(int64(g.Ratings))
	}
	err := writeAtomically(dir, "ratings.csv", func(w io.Writer) error { return streamRatings(ctx, syn, w, bar) })
	if bar != nil {
		bar.stop()
	}
	if err != nil {
		return 0, err
	}
	if err := writeAtomically(dir, "movies.csv", syn.WriteMoviesCSV); err != nil {
		return 0, err
	}
	if err := writeAtomically(dir, "tags.csv", syn.WriteTagsCSV); err != nil {
		return 0, err
	}
	manifest, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("generate: %w", err)
	}
	err = writeAtomically(dir, generateManifest, func(w io.Writer) error {
		_, err := w.Write(append(manifest, '\n'))
		return err
	})
	return len(syn.MovieTags), err
}

// progressEvery is how many ratings pass between progress updates.
const progressEvery = 1 << 16

// streamRatings streams every rating of syn to w as ratings.csv.
func streamRatings(ctx context.Context, syn *dataset.Synthetic, w io.Writer, bar *progress) error {
	rw, err := dataset.NewRatingWriter(w, dataset.CSV)
	if err != nil {
		return err
	}
	n := 0
	err = syn.Each(func(r dataset.Rating) error {
		if err := rw.Write(r); err != nil {
			return err
		}
		if n++; n%progressEvery == 0 {
			if bar != nil {
				bar.add(progressEvery)
			}
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bar != nil {
		bar.add(int64(n % progressEvery))
	}
	return rw.Flush()
}

// writeAtomically writes name in dir through a buffered writer into a
// temporary file that replaces name only once write succeeded.
func writeAtomically(dir, name string, write func(io.Writer) error) error {
	path := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("generate %s: %w", name, err)
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("generate %s: %w", path, err)
	}
	return nil
}

// generated reports whether dir holds a complete dataset written for g.
func generated(dir string, g genSpec) bool {
	b, err := os.ReadFile(filepath.Join(dir, generateManifest))
	if err != nil {
		return false
	}
	want, err := json.MarshalIndent(g, "", "  ")
	return err == nil && bytes.Equal(bytes.TrimSpace(b), want)
}
