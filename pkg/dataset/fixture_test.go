package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// breakLine rewrites line n (1-based) of a generated file with fn.
func breakLine(t *testing.T, path string, n int, fn func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[n-1] = fn(lines[n-1])
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Broken lines in generated files on disk: the error names the file path,
// the line and the field.
func TestBrokenGeneratedFiles(t *testing.T) {
	s := Generate(SynthConfig{Seed: 21, Users: 30, Movies: 60, Ratings: 400})
	field := func(sep string, i int, v string) func(string) string {
		return func(l string) string {
			end := ""
			if strings.HasSuffix(l, "\n") {
				l, end = l[:len(l)-1], "\n"
			}
			f := strings.Split(l, sep)
			f[i] = v
			return strings.Join(f, sep) + end
		}
	}
	tests := []brokenFile{
		{"csv bad number", CSV, "ratings.csv", 17, field(",", 2, "abc"), `17: rating: "abc" is not a number`},
		{"csv out of range", CSV, "ratings.csv", 5, field(",", 2, "5.5"), `5: rating: 5.5 is out of range 0.5..5`},
		{"csv field count", CSV, "ratings.csv", 9, func(l string) string { return "1,2\n" }, `9: want 4 comma-separated fields as in the header, got 2`},
		{"csv crlf line", CSV, "ratings.csv", 3, func(l string) string { return strings.Replace(l, "\n", "\r\n", 1) }, ""},
		{"u.data bad timestamp", ML100K, "u.data", 100, field("\t", 3, "noon"), `100: timestamp: "noon" is not a Unix time in seconds`},
		{"u.data field count", ML100K, "u.data", 2, func(l string) string { return "1\t2\t3\n" }, `2: want 4 tab-separated fields (user item rating timestamp), got 3`},
		{"ratings.dat out of range", Dat, "ratings.dat", 50, field("::", 2, "0"), `50: rating: 0 is out of range 0.5..5`},
		{"ratings.txt empty movie", Plain, "ratings.txt", 1, func(l string) string { return "7 \n" }, `1: want 3 or 4 fields (user item rating [timestamp]), got 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, path := openBroken(t, s, tt.layout, tt.file, tt.line, tt.fn)
			n := 0
			err := src.Ratings(func(Rating) error { n++; return nil })
			if tt.want == "" {
				if err != nil || n != s.Config.Ratings {
					t.Errorf("read %d ratings, %v; want %d and no error", n, err, s.Config.Ratings)
				}
				return
			}
			if want := path + ":" + tt.want; err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Error("not errors.Is ErrFormat")
			}
		})
	}
}

// Broken catalog files on disk.
func TestBrokenGeneratedCatalogs(t *testing.T) {
	s := Generate(SynthConfig{Seed: 22, Users: 30, Movies: 60, Ratings: 400})
	tests := []brokenFile{
		{"u.item field count", ML100K, "u.item", 4, func(l string) string { return "4|Only (1990)|x\n" }, `4: want 24 "|"-separated fields, got 3`},
		{"movies.csv bare quote", CSV, "movies.csv", 6, func(l string) string { return `5,"Open (1990),Drama` + "\n" }, `6: extraneous or missing " in quoted-field (the quoted field runs on to line 12)`},
		{"movies.dat field count", Dat, "movies.dat", 3, func(l string) string { return "2::Two (1990)\n" }, `3: want 3 "::"-separated fields (id::title::genres), got 2`},
		{"tags.csv empty movie", CSV, "tags.csv", 2, func(l string) string { return "1,,x,5\n" }, `2: movie: empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, path := openBroken(t, s, tt.layout, tt.file, tt.line, tt.fn)
			_, err := src.Movies()
			if want := fmt.Sprintf("%s:%s", path, tt.want); err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
		})
	}
}

// brokenFile is a test case of a generated file with one line rewritten:
// line of file, in layout, is replaced by fn(line); want is the error
// expected after "<path>:".
type brokenFile struct {
	name   string
	layout Layout
	file   string
	line   int
	fn     func(string) string
	want   string
}

// openBroken writes s in layout to a temporary folder, rewrites line n of
// file there with fn and opens the folder. It returns the source and the
// broken file's path.
func openBroken(t *testing.T, s *Synthetic, layout Layout, file string, n int, fn func(string) string) (*Source, string) {
	t.Helper()
	dir := t.TempDir()
	if err := s.WriteDir(dir, layout); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	breakLine(t, path, n, fn)
	src, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return src, path
}
