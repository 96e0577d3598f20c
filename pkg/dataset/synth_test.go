package dataset

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	a := Generate(SynthConfig{Seed: 3}).Ratings()
	b := Generate(SynthConfig{Seed: 3}).Ratings()
	c := Generate(SynthConfig{Seed: 4}).Ratings()
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different ratings")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same ratings")
	}
	if !reflect.DeepEqual(Generate(SynthConfig{Seed: 3}).Catalog, Generate(SynthConfig{Seed: 3}).Catalog) {
		t.Error("the same seed gave different catalogs")
	}
}

func TestGenerateShape(t *testing.T) {
	for _, half := range []bool{false, true} {
		t.Run("half="+strconv.FormatBool(half), func(t *testing.T) {
			cfg := SynthConfig{Seed: 11, Users: 300, Movies: 500, Ratings: 20000, MinPerUser: 10, HalfStars: half}
			s := Generate(cfg)
			rs := s.Ratings()
			if len(rs) != cfg.Ratings {
				t.Fatalf("got %d ratings, want %d", len(rs), cfg.Ratings)
			}
			pairs := make(map[[2]string]bool)
			perUser := make(map[string]int)
			perMovie := make(map[string]int)
			for i, r := range rs {
				k := [2]string{r.User, r.Movie}
				if pairs[k] {
					t.Fatalf("pair %v rated twice", k)
				}
				pairs[k] = true
				perUser[r.User]++
				perMovie[r.Movie]++
				if i > 0 && r.Time < rs[i-1].Time {
					t.Fatalf("rating %d at %d is before rating %d at %d", i, r.Time, i-1, rs[i-1].Time)
				}
				if r.Time < s.Config.Start || r.Time >= s.Config.Start+s.Config.Span {
					t.Fatalf("time %d outside the configured span", r.Time)
				}
				step := 1.0
				if half {
					step = 0.5
				}
				if r.Value < MinRating || r.Value > MaxRating || r.Value/step != math.Trunc(r.Value/step) || (!half && r.Value < 1) {
					t.Fatalf("rating %v off the scale (half stars %v)", r.Value, half)
				}
			}
			if len(perUser) != cfg.Users {
				t.Errorf("%d users rated, want %d", len(perUser), cfg.Users)
			}
			counts := make([]int, 0, len(perUser))
			for u, n := range perUser {
				if n < cfg.MinPerUser {
					t.Errorf("user %s has %d ratings, fewer than %d", u, n, cfg.MinPerUser)
				}
				counts = append(counts, n)
			}
			sort.Sort(sort.Reverse(sort.IntSlice(counts)))
			if counts[0] < 4*counts[len(counts)/2] {
				t.Errorf("no activity skew: busiest user %d, median %d", counts[0], counts[len(counts)/2])
			}
			// Popularity skew: the top tenth of movies gets more ratings than
			// the bottom half.
			mc := make([]int, 0, len(perMovie))
			for _, n := range perMovie {
				mc = append(mc, n)
			}
			for range cfg.Movies - len(mc) {
				mc = append(mc, 0)
			}
			sort.Sort(sort.Reverse(sort.IntSlice(mc)))
			top, bottom := 0, 0
			for i, n := range mc {
				if i < len(mc)/10 {
					top += n
				}
				if i >= len(mc)/2 {
					bottom += n
				}
			}
			if top <= bottom {
				t.Errorf("no popularity skew: top 10%% of movies %d ratings, bottom 50%% %d", top, bottom)
			}
		})
	}
}

// The observed ratings follow the latent taste model: they correlate with
// the noise-free score far more than with a shuffled one.
func TestGenerateLatentStructure(t *testing.T) {
	s := Generate(SynthConfig{Seed: 5, Users: 200, Movies: 300, Ratings: 10000})
	rs := s.Ratings()
	var obs, truth, shuffled []float64
	for i, r := range rs {
		u, _ := strconv.Atoi(r.User)
		m, _ := strconv.Atoi(r.Movie)
		obs = append(obs, r.Value)
		truth = append(truth, s.TrueScore(u-1, m-1))
		o := rs[(i*7919)%len(rs)]
		m2, _ := strconv.Atoi(o.Movie)
		shuffled = append(shuffled, s.TrueScore(u-1, m2-1))
	}
	c, cs := corr(obs, truth), corr(obs, shuffled)
	t.Logf("correlation of ratings with the true score %.3f, with a shuffled score %.3f", c, cs)
	if c < 0.7 || cs > c/2 {
		t.Errorf("ratings do not follow the taste model: corr %.3f, shuffled %.3f", c, cs)
	}
	// Every movie has at least one genre from the known list.
	for _, m := range s.Catalog {
		if len(m.Genres) == 0 {
			t.Fatalf("movie %s has no genre", m.ID)
		}
		for _, g := range m.Genres {
			if !slices.Contains(synthGenres, g) {
				t.Fatalf("movie %s has unknown genre %q", m.ID, g)
			}
		}
		if titleYear(m.Title) != m.Year || m.Year < 1930 || m.Year > 2020 {
			t.Fatalf("movie %s: title %q, year %d", m.ID, m.Title, m.Year)
		}
	}
}

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func TestGenerateCaps(t *testing.T) {
	s := Generate(SynthConfig{Seed: 1, Users: 10, Movies: 20, Ratings: 1000})
	if s.Config.Ratings != 100 {
		t.Errorf("ratings capped to %d, want 10 users x 20/2 movies = 100", s.Config.Ratings)
	}
	if n := len(s.Ratings()); n != 100 {
		t.Errorf("got %d ratings, want 100", n)
	}
}

func TestEachStop(t *testing.T) {
	s := Generate(SynthConfig{Seed: 1})
	n := 0
	err := s.Each(func(Rating) error {
		n++
		if n == 10 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 10 {
		t.Errorf("got %v after %d, want nil after 10", err, n)
	}
}

func TestSizedConfig(t *testing.T) {
	c := SizedConfig(100_000, 1).withDefaults()
	if c.Users != 943 || c.Movies != 1700 || c.Ratings != 100_000 {
		t.Errorf("SizedConfig(100k) = %d users, %d movies, %d ratings", c.Users, c.Movies, c.Ratings)
	}
}

// Every layout round-trips: what WriteDir writes, Open and the readers read
// back unchanged.
func TestRoundTrip(t *testing.T) {
	s := Generate(SynthConfig{Seed: 9, Users: 60, Movies: 120, Ratings: 1500, HalfStars: true})
	want := s.Ratings()
	for _, layout := range []Layout{ML100K, CSV, Dat, Plain} {
		t.Run(string(layout), func(t *testing.T) {
			dir := t.TempDir()
			if err := s.WriteDir(dir, layout); err != nil {
				t.Fatal(err)
			}
			src, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if src.Layout != layout {
				t.Errorf("Open found layout %q", src.Layout)
			}
			got, err := src.LoadAll()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ratings differ after the round trip (%d read, %d written)", len(got), len(want))
			}
			movies, err := src.Movies()
			if err != nil {
				t.Fatal(err)
			}
			if layout == Plain {
				if movies != nil {
					t.Errorf("a plain folder has no catalog, got %d movies", len(movies))
				}
				return
			}
			if len(movies) != len(s.Catalog) {
				t.Fatalf("read %d movies, wrote %d", len(movies), len(s.Catalog))
			}
			for i, m := range movies {
				w := s.Catalog[i]
				w.Overview = "" // no MovieLens layout has a column for it
				if layout == ML100K {
					w.Tags = nil // nor does ml-100k for tags
				}
				if len(w.Tags) == 0 {
					w.Tags = nil
				}
				if len(m.Tags) == 0 {
					m.Tags = nil
				}
				if !reflect.DeepEqual(m, w) {
					t.Fatalf("movie %d: read %#v, wrote %#v", i, m, w)
				}
			}
			if layout == ML100K {
				checkFolds(t, src, want)
			}
		})
	}
}

// checkFolds checks that each base+test pair is the whole data and that the
// test sets are disjoint and cover it.
func checkFolds(t *testing.T, src *Source, all []Rating) {
	t.Helper()
	if len(src.Folds) != Folds {
		t.Fatalf("found %d folds, want %d", len(src.Folds), Folds)
	}
	inTest := make(map[[2]string]int)
	for i, f := range src.Folds {
		n := 0
		for j, p := range f {
			err := ReadRatings(p, func(r Rating) error {
				n++
				if j == 1 {
					k := [2]string{r.User, r.Movie}
					if prev, ok := inTest[k]; ok {
						t.Fatalf("%v in the test sets of folds %d and %d", k, prev, i)
					}
					inTest[k] = i
					if Fold(r.User, r.Movie) != i {
						t.Fatalf("%v in test fold %d, Fold says %d", k, i, Fold(r.User, r.Movie))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if n != len(all) {
			t.Errorf("fold %d: base+test has %d ratings, want %d", i+1, n, len(all))
		}
	}
	if len(inTest) != len(all) {
		t.Errorf("test sets cover %d ratings, want %d", len(inTest), len(all))
	}
}

func TestWriteRatingsLayouts(t *testing.T) {
	r := Rating{User: "1", Movie: "2", Value: 3.5, Time: 99}
	tests := map[Layout]string{
		ML100K: "1\t2\t3.5\t99\n",
		CSV:    "userId,movieId,rating,timestamp\n1,2,3.5,99\n",
		Dat:    "1::2::3.5::99\n",
		Plain:  "1 2 3.5 99\n",
	}
	for layout, want := range tests {
		var b bytes.Buffer
		w, err := NewRatingWriter(&b, layout)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s: wrote %q, want %q", layout, b.String(), want)
		}
	}
	var b bytes.Buffer
	w, err := NewRatingWriter(&b, CSV)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Rating{User: "1", Movie: "2", Value: 3.25}); err != nil || w.Flush() != nil || !strings.HasSuffix(b.String(), "1,2,3.25,0\n") {
		t.Errorf("a quarter star must keep its digits in CSV: %q, %v", b.String(), err)
	}
	for _, bad := range []Rating{{User: "a,b", Movie: "1"}, {User: "a", Movie: ""}, {User: "a", Movie: "x\ny"}} {
		if err := w.Write(bad); err == nil {
			t.Errorf("wrote %+v, which the CSV reader would split differently", bad)
		}
	}
	if _, err := NewRatingWriter(&bytes.Buffer{}, Auto); err == nil {
		t.Error("Auto is not a layout to write")
	}
}

func TestUItemIsLatin1(t *testing.T) {
	dir := t.TempDir()
	s := Generate(SynthConfig{Seed: 2, Movies: 400})
	if err := s.WriteDir(dir, ML100K); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "u.item"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("Caf\xe9")) && !bytes.Contains(raw, []byte("Se\xf1or")) {
		t.Fatal("u.item has no latin-1 byte to exercise the decoder")
	}
	nonASCII := 0
	for _, m := range s.Catalog {
		if strings.ContainsAny(m.Title, "éñëÉ") {
			nonASCII++
		}
	}
	if nonASCII == 0 {
		t.Fatal("catalog has no non-ASCII title")
	}
}

func TestOpen(t *testing.T) {
	t.Run("one plain file", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "my ratings.tsv"), "a\tb\t4\t1\n")
		write(t, filepath.Join(dir, "README"), "about\n")
		src, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if src.RatingsPath != filepath.Join(dir, "my ratings.tsv") || src.Layout != ML100K || src.MoviesPath != "" {
			t.Errorf("got %+v", src)
		}
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "r.txt")
		write(t, p, "a b 4\n")
		src, err := Open(p)
		if err != nil || src.RatingsPath != p || src.Layout != Plain {
			t.Errorf("got %+v, %v", src, err)
		}
	})
	t.Run("two plain files", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "a.txt"), "a b 4\n")
		write(t, filepath.Join(dir, "b.txt"), "a b 4\n")
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), "cannot tell the ratings file among a.txt, b.txt") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("empty folder", func(t *testing.T) {
		_, err := Open(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "no ratings file") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no ratings file", func(t *testing.T) {
		src := &Source{Dir: "x"}
		if _, err := src.LoadAll(); !errors.Is(err, ErrFormat) {
			t.Errorf("LoadAll: got %v", err)
		}
		if err := src.Ratings(func(Rating) error { return nil }); !errors.Is(err, ErrFormat) {
			t.Errorf("Ratings: got %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := Open(filepath.Join(t.TempDir(), "nope")); !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ml-100k without u.item nor folds", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "u.data"), "1\t1\t4\t1\n")
		write(t, filepath.Join(dir, "u1.base"), "1\t1\t4\t1\n") // no u1.test: not a fold
		src, err := Open(dir)
		if err != nil || src.MoviesPath != "" || len(src.Folds) != 0 {
			t.Errorf("got %+v, %v", src, err)
		}
	})
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
