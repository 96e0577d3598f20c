package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// generateCmd runs `swipeflix generate args...` and returns its stdout.
func generateCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := realMain(context.Background(), append([]string{"generate"}, args...), nil, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// TestGenerateReadBack checks that the readers of pkg/dataset read back
// exactly what the generator streams: the same ratings in the same order,
// the catalog with its quoted titles, and the tags.
func TestGenerateReadBack(t *testing.T) {
	dir := t.TempDir()
	if out, err := generateCmd(t, "-ratings", "5000", "-seed", "7", "-quiet", "-out", dir); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	spec, err := genSpec{Ratings: 5000, Seed: 7}.shape()
	if err != nil {
		t.Fatal(err)
	}
	want := dataset.Generate(spec.synthConfig())

	src, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if src.Layout != dataset.CSV {
		t.Errorf("layout %q, want csv", src.Layout)
	}
	got, err := src.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantRatings := want.Ratings()
	if len(got) != spec.Ratings || len(wantRatings) != spec.Ratings {
		t.Fatalf("read %d ratings, generator has %d, want %d", len(got), len(wantRatings), spec.Ratings)
	}
	users := map[string]bool{}
	for i, r := range got {
		if r != wantRatings[i] {
			t.Fatalf("rating %d: read %+v, generated %+v", i, r, wantRatings[i])
		}
		users[r.User] = true
	}
	if len(users) != spec.Users {
		t.Errorf("%d users rated, want %d", len(users), spec.Users)
	}

	movies, err := src.Movies()
	if err != nil {
		t.Fatal(err)
	}
	if len(movies) != spec.Movies {
		t.Fatalf("read %d movies, want %d", len(movies), spec.Movies)
	}
	quoted := 0
	for i, m := range movies {
		w := want.Catalog[i]
		if m.ID != w.ID || m.Title != w.Title || m.Year != w.Year || strings.Join(m.Genres, "|") != strings.Join(w.Genres, "|") {
			t.Fatalf("movie %d: read %+v, generated %+v", i, m, w)
		}
		if strings.ContainsAny(m.Title, `,"`) {
			quoted++
		}
	}
	if quoted == 0 {
		t.Error("no title needed CSV quoting: the test does not exercise it")
	}

	tags, err := dataset.ReadTags(filepath.Join(dir, "tags.csv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ts := range tags {
		n += len(ts)
	}
	if n != len(want.MovieTags) {
		t.Errorf("read %d tags, generated %d", n, len(want.MovieTags))
	}
}

// TestGenerateDeterministic checks that two runs with the same flags write
// the same bytes, and another seed other ratings.
func TestGenerateDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, run := range []struct{ dir, seed string }{{a, "3"}, {b, "3"}, {c, "4"}} {
		if out, err := generateCmd(t, "-ratings", "20000", "-seed", run.seed, "-quiet", "-out", run.dir); err != nil {
			t.Fatalf("generate: %v\n%s", err, out)
		}
	}
	for _, name := range []string{"ratings.csv", "movies.csv", "tags.csv", generateManifest} {
		x, y := readFile(t, filepath.Join(a, name)), readFile(t, filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with seed 3", name)
		}
	}
	if bytes.Equal(readFile(t, filepath.Join(a, "ratings.csv")), readFile(t, filepath.Join(c, "ratings.csv"))) {
		t.Error("seeds 3 and 4 wrote the same ratings")
	}
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Errorf("the folder holds %d entries, want the 4 files (no temporary files left)", len(entries))
	}
	if !generated(a, genSpec{Ratings: 20000, Users: 130, Movies: 1000, Seed: 3}) {
		t.Errorf("the manifest does not vouch for the dataset: %s", readFile(t, filepath.Join(a, generateManifest)))
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no ratings", []string{"-out", dir}, "-ratings must be > 0"},
		{"negative ratings", []string{"-ratings", "-5", "-out", dir}, "-ratings must be > 0"},
		{"no out", []string{"-ratings", "100"}, "-out DIR is required"},
		{"negative users", []string{"-ratings", "100", "-users", "-1", "-out", dir}, "-users and -movies must be >= 0"},
		{"too many", []string{"-ratings", "1000", "-users", "2", "-movies", "10", "-out", dir}, "too many for 2 users and 10 movies"},
		{"too few", []string{"-ratings", "10", "-users", "50", "-out", dir}, "too few for 50 users"},
		{"argument", []string{"-ratings", "100", "-out", dir, "extra"}, `unexpected argument "extra"`},
		{"not a number", []string{"-ratings", "1M", "-out", dir}, `invalid value "1M"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := generateCmd(t, tc.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error()+out, tc.want) {
				t.Errorf("error %q (output %q) does not say %q", err, out, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused run wrote %d entries", len(entries))
	}
}
