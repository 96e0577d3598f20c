package dataset

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// sharedDatasets is the read-only MovieLens folder, ../shared/datasets from
// the repository root.
var sharedDatasets = filepath.Join("..", "..", "..", "shared", "datasets")

func openShared(t *testing.T, name string) *Source {
	t.Helper()
	dir := filepath.Join(sharedDatasets, name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("MovieLens %s not present at %s", name, dir)
	}
	src, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

type counts struct {
	ratings, users, movies int
	hist                   map[float64]int
	minT, maxT             int64
}

func count(t *testing.T, fn func(func(Rating) error) error) counts {
	t.Helper()
	c := counts{hist: map[float64]int{}, minT: 1 << 62}
	users, movies := map[string]bool{}, map[string]bool{}
	err := fn(func(r Rating) error {
		c.ratings++
		users[r.User] = true
		movies[r.Movie] = true
		c.hist[r.Value]++
		c.minT, c.maxT = min(c.minT, r.Time), max(c.maxT, r.Time)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.users, c.movies = len(users), len(movies)
	return c
}

// The counts below are the verified counts of shared/datasets/README.md.
func TestML100K(t *testing.T) {
	src := openShared(t, "ml-100k")
	if src.Layout != ML100K || len(src.Folds) != 5 {
		t.Fatalf("Open: layout %q, %d folds", src.Layout, len(src.Folds))
	}
	c := count(t, src.Ratings)
	if c.ratings != 100_000 || c.users != 943 || c.movies != 1682 {
		t.Errorf("got %d ratings, %d users, %d movies; want 100000, 943, 1682", c.ratings, c.users, c.movies)
	}
	wantHist := map[float64]int{1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201}
	for v, n := range wantHist {
		if c.hist[v] != n {
			t.Errorf("rating %v: %d, want %d", v, c.hist[v], n)
		}
	}
	if c.minT != 874724710 || c.maxT != 893286638 {
		t.Errorf("timestamps %d..%d", c.minT, c.maxT)
	}
	for i, f := range src.Folds {
		base := count(t, func(fn func(Rating) error) error { return ReadRatings(f[0], fn) })
		test := count(t, func(fn func(Rating) error) error { return ReadRatings(f[1], fn) })
		if base.ratings != 80_000 || test.ratings != 20_000 {
			t.Errorf("fold u%d: %d base, %d test", i+1, base.ratings, test.ratings)
		}
	}
	movies, err := src.Movies()
	if err != nil {
		t.Fatal(err)
	}
	if len(movies) != 1682 {
		t.Fatalf("%d movies, want 1682", len(movies))
	}
	nonASCII := 0
	var les *Movie
	for i, m := range movies {
		if m.ID != itoa(i+1) {
			t.Fatalf("movie %d has id %s", i+1, m.ID)
		}
		for _, r := range m.Title {
			if r > 127 {
				nonASCII++
				break
			}
		}
		if m.Title == "Misérables, Les (1995)" {
			les = &movies[i]
		}
	}
	if nonASCII != 9 {
		t.Errorf("%d non-ASCII titles, want 9", nonASCII)
	}
	if les == nil || les.Year != 1995 || !slices.Equal(les.Genres, []string{"Drama", "Musical"}) {
		t.Errorf("Misérables, Les (1995): %+v", les)
	}
	if m := movies[0]; m.Title != "Toy Story (1995)" || !slices.Equal(m.Genres, []string{"Animation", "Children's", "Comedy"}) {
		t.Errorf("movie 1: %+v", m)
	}
}

func TestMLLatestSmall(t *testing.T) {
	src := openShared(t, "ml-latest-small")
	if src.Layout != CSV {
		t.Fatalf("Open: layout %q", src.Layout)
	}
	c := count(t, src.Ratings)
	if c.ratings != 100_836 || c.users != 610 || c.movies != 9724 {
		t.Errorf("got %d ratings, %d users, %d movies; want 100836, 610, 9724", c.ratings, c.users, c.movies)
	}
	if c.hist[0.5] != 1370 || c.hist[3.5] != 13136 || c.hist[5] != 13211 {
		t.Errorf("histogram %v", c.hist)
	}
	if c.minT != 828124615 || c.maxT != 1537799250 {
		t.Errorf("timestamps %d..%d", c.minT, c.maxT)
	}
	movies, err := src.Movies()
	if err != nil {
		t.Fatal(err)
	}
	if len(movies) != 9742 {
		t.Fatalf("%d movies, want 9742", len(movies))
	}
	tagged, noGenre := 0, 0
	for _, m := range movies {
		if len(m.Tags) > 0 {
			tagged++
		}
		if len(m.Genres) == 0 {
			noGenre++
		}
	}
	// tags.csv: 3,683 tag applications on 1,572 movies.
	if tagged != 1572 {
		t.Errorf("%d movies with tags, want 1572", tagged)
	}
	if noGenre == 0 {
		t.Error(`"(no genres listed)" movies should have no genre`)
	}
	if m := movies[0]; m.Title != "Toy Story (1995)" || m.Year != 1995 || len(m.Genres) != 5 {
		t.Errorf("movie 1: %+v", m)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
