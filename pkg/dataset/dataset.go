// Package dataset reads MovieLens-format data (ml-100k, the CSV layout of
// ml-latest-small / ml-20m / ml-25m, the "::" layout of ml-1m / ml-10m, and
// plain "user item rating [timestamp]" files) and generates synthetic data in
// the same layouts.
//
// Ratings are streamed line by line through a callback, so a 25M-line file is
// read in memory bounded by its distinct ids, never by its length. Every
// parse error names the file, the line and the field.
package dataset

import (
	"errors"
	"fmt"
	"strconv"
)

// Rating is one (user, movie, value) triple of a ratings file.
type Rating struct {
	User  string
	Movie string
	// Value is on the 0.5..5 star scale.
	Value float64
	// Time is the rating time in Unix seconds, 0 if the file has none.
	Time int64
}

// Movie is one catalog entry.
type Movie struct {
	ID    string
	Title string // as given by the file, year included
	Year  int    // from "(1995)" at the end of the title, 0 if none
	// Genres in file order; MovieLens "(no genres listed)" and the ml-100k
	// "unknown" flag become no genre at all.
	Genres []string
	// Tags are the distinct user tags of the movie, in order of first use.
	Tags []string
	// Overview is a free-text description; MovieLens has none, the synthetic
	// generator writes one.
	Overview string
}

// Layout names a file layout the readers and writers understand.
type Layout string

// The layouts. Their string values are what ParseLayout accepts.
const (
	// Auto asks a reader to detect the layout from the file's first line.
	Auto Layout = ""
	// ML100K is MovieLens 100K: u.data, uN.base, uN.test hold
	// "user TAB item TAB rating TAB timestamp" without a header; u.item is
	// the latin-1 catalog with 19 genre flags.
	ML100K Layout = "ml-100k"
	// CSV is ml-latest-small, ml-20m, ml-25m: ratings.csv with the header
	// userId,movieId,rating,timestamp; movies.csv; tags.csv.
	CSV Layout = "csv"
	// Dat is ml-1m and ml-10m: ratings.dat holds
	// UserID::MovieID::Rating::Timestamp; movies.dat; tags.dat.
	Dat Layout = "dat"
	// Plain is "user item rating [timestamp]" without a header, separated by
	// whitespace or by commas.
	Plain Layout = "plain"
)

// ParseLayout parses a layout name ("ml-100k", "csv", "dat", "plain", or ""
// or "auto" for detection).
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(s); l {
	case ML100K, CSV, Dat, Plain, Auto:
		return l, nil
	case "auto":
		return Auto, nil
	}
	return "", fmt.Errorf("layout: unknown %q (want ml-100k, csv, dat, plain or auto)", s)
}

// ErrFormat is wrapped by every *ParseError.
var ErrFormat = errors.New("bad data file")

// ErrStop may be returned by a ReadRatings callback to end the read early;
// ReadRatings then returns nil.
var ErrStop = errors.New("stop reading")

// ParseError reports a bad line of a data file.
type ParseError struct {
	File  string
	Line  int    // 1-based
	Field string // the column at fault ("rating", "movie", ...), or "" for the whole line
	// Reason says what is wrong, e.g. `"abc" is not a number`.
	Reason string
}

func (e *ParseError) Error() string {
	loc := e.File + ":" + strconv.Itoa(e.Line) + ": "
	if e.Field == "" {
		return loc + e.Reason
	}
	return loc + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrFormat) hold.
func (e *ParseError) Unwrap() error { return ErrFormat }
