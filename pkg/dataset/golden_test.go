package dataset

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the generator")

// samples are the small generated datasets shipped in testdata/, for tests
// and demos that want files on disk without MovieLens. Only the CSV layout
// is shipped: generated files in the ml-100k layout would carry MovieLens's
// file names (u.data, u.item), which the repository's licence check refuses;
// tests write that layout to temporary folders instead.
var samples = []struct {
	dir    string
	layout Layout
	cfg    SynthConfig
}{
	{"synth-csv", CSV, SynthConfig{Seed: 2, Users: 40, Movies: 80, Ratings: 600, HalfStars: true}},
}

// TestSamples checks that testdata/ is what the generator writes today, so a
// change of the generator's output is a deliberate one (go test -update).
func TestSamples(t *testing.T) {
	for _, s := range samples {
		t.Run(s.dir, func(t *testing.T) {
			want := filepath.Join("testdata", s.dir)
			got := t.TempDir()
			if *update {
				got = want
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
			}
			if err := Generate(s.cfg).WriteDir(got, s.layout); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				a, err := os.ReadFile(filepath.Join(got, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(want, e.Name()))
				if err != nil {
					t.Fatalf("%v (run go test -update to write testdata)", err)
				}
				if !bytes.Equal(a, b) {
					t.Errorf("%s/%s differs from what the generator writes (go test -update after a deliberate change)", s.dir, e.Name())
				}
			}
			src, err := Open(want)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := src.Ratings(func(Rating) error { n++; return nil }); err != nil || n != s.cfg.Ratings {
				t.Errorf("read %d ratings, %v; want %d", n, err, s.cfg.Ratings)
			}
		})
	}
}
