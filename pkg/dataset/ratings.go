package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// maxLine bounds one line of a data file; longer lines are an error, so a
// file without newlines cannot make a reader buffer all of it.
const maxLine = 1 << 20

// maxInterned bounds the id intern table of one read. Beyond it ids are
// still read, just no longer shared.
const maxInterned = 1 << 22

// ReadRatings streams the ratings of the file at path to fn, in file order,
// detecting the layout from the first line. It stops at the first bad line
// with a *ParseError naming the file and line, or at the first error of fn
// (ErrStop ends the read without error).
func ReadRatings(path string, fn func(Rating) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read ratings: %w", err)
	}
	defer f.Close()
	return ReadRatingsFrom(f, path, Auto, fn)
}

// ReadRatingsFrom is ReadRatings on any reader; name is used in errors.
// layout Auto detects the layout from the first line.
func ReadRatingsFrom(r io.Reader, name string, layout Layout, fn func(Rating) error) error {
	_, err := readRatings(r, name, layout, ReadOptions{}, fn)
	return err
}

// ReadOptions relax what ReadRatingsWith accepts.
type ReadOptions struct {
	// AnyScale accepts any positive finite rating up to MaxAnyScale (a file
	// on a 1..10 or 0.5..4 scale), instead of MinRating..MaxRating; callers
	// map it with a Scale.
	AnyScale bool
	// SkipInvalid skips bad lines instead of stopping at the first one; the
	// result counts them and keeps the first line numbers.
	SkipInvalid bool
}

// MaxAnyScale bounds a rating read with ReadOptions.AnyScale.
const MaxAnyScale = 100

// Skipped describes the lines a read with ReadOptions.SkipInvalid skipped.
type Skipped struct {
	Count int
	// First are the first few skipped line numbers (1-based), with the
	// first error.
	First []int
	Err   error
}

// maxSkippedLines is how many skipped line numbers a read keeps.
const maxSkippedLines = 5

// ReadRatingsWith is ReadRatingsFrom with options; it reports the lines it
// skipped.
func ReadRatingsWith(r io.Reader, name string, layout Layout, opt ReadOptions, fn func(Rating) error) (Skipped, error) {
	return readRatings(r, name, layout, opt, fn)
}

func readRatings(r io.Reader, name string, layout Layout, opt ReadOptions, fn func(Rating) error) (Skipped, error) {
	var skipped Skipped
	skip := func(pe *ParseError) error {
		if !opt.SkipInvalid {
			return pe
		}
		skipped.Count++
		if len(skipped.First) < maxSkippedLines {
			skipped.First = append(skipped.First, pe.Line)
		}
		if skipped.Err == nil {
			skipped.Err = pe
		}
		return nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if layout == Auto {
		first, err := peekLine(br)
		if err != nil {
			return skipped, fmt.Errorf("read ratings %s: %w", name, err)
		}
		layout = detectRatings(first)
	}
	p := ratingParser{name: name, layout: layout, ids: make(map[string]string), anyScale: opt.AnyScale}
	switch layout {
	case ML100K, Dat, Plain:
	case CSV:
		p.needHeader = true
	default:
		return skipped, fmt.Errorf("read ratings %s: unknown layout %q", name, layout)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		b = bytes.TrimSuffix(b, []byte{'\r'})
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if p.needHeader {
			if err := p.header(b); err != nil {
				return skipped, &ParseError{File: name, Line: line, Field: "header", Reason: err.Error()}
			}
			continue
		}
		rt, field, err := p.parse(b)
		if err != nil {
			if err := skip(&ParseError{File: name, Line: line, Field: field, Reason: err.Error()}); err != nil {
				return skipped, err
			}
			continue
		}
		if err := fn(rt); err != nil {
			if errors.Is(err, ErrStop) {
				return skipped, nil
			}
			return skipped, fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return skipped, &ParseError{File: name, Line: line + 1, Reason: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return skipped, fmt.Errorf("read ratings %s: %w", name, err)
	}
	return skipped, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// peekLine returns the first line of br without consuming it (at most the
// buffer size).
func peekLine(br *bufio.Reader) ([]byte, error) {
	for n := 512; ; n *= 2 {
		n = min(n, br.Size())
		b, err := br.Peek(n)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i], nil
		}
		if err == io.EOF || err == bufio.ErrBufferFull || n == br.Size() {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// detectRatings tells the layout of a ratings file from its first line.
func detectRatings(first []byte) Layout {
	first = bytes.TrimSpace(bytes.TrimPrefix(first, utf8BOM))
	switch {
	case bytes.Contains(first, []byte("::")):
		return Dat
	case bytes.IndexByte(first, ',') >= 0:
		var f [maxFields][]byte
		n := splitSep(first, ",", &f)
		if n >= 3 && !isNumber(f[2]) {
			return CSV // a header: the rating column is not a number
		}
		return Plain
	case bytes.Count(first, []byte{'\t'}) == 3 && bytes.IndexByte(first, ' ') < 0:
		return ML100K
	}
	return Plain
}

func isNumber(b []byte) bool {
	_, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
	return err == nil
}

// maxFields is one more than the widest line a ratings layout has, so a line
// with too many fields is caught.
const maxFields = 8

type ratingParser struct {
	name       string
	layout     Layout
	needHeader bool
	// CSV columns from the header.
	cols                         int
	userCol, movieCol, ratingCol int
	timeCol                      int // -1 if none
	// Plain separator, fixed by the first data line: "," or "" (whitespace).
	sep      string
	sepSet   bool
	ids      map[string]string
	anyScale bool
}

// header reads the CSV header and finds the columns by name.
func (p *ratingParser) header(b []byte) error {
	p.needHeader = false
	rec, err := csv.NewReader(bytes.NewReader(b)).Read()
	if err != nil {
		return err
	}
	p.cols = len(rec)
	p.userCol, p.movieCol, p.ratingCol, p.timeCol = -1, -1, -1, -1
	for i, c := range rec {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "userid", "user_id", "user":
			p.userCol = i
		case "movieid", "movie_id", "movie", "itemid", "item_id", "item":
			p.movieCol = i
		case "rating":
			p.ratingCol = i
		case "timestamp", "ts", "time":
			p.timeCol = i
		}
	}
	if p.userCol < 0 || p.movieCol < 0 || p.ratingCol < 0 {
		return fmt.Errorf("want columns userId,movieId,rating[,timestamp], got %q", string(b))
	}
	return nil
}

// parse reads one data line. On error it returns the field at fault.
func (p *ratingParser) parse(b []byte) (Rating, string, error) {
	var f [maxFields][]byte
	var n int
	var user, movie, rating, ts []byte
	switch p.layout {
	case ML100K:
		n = splitSep(b, "\t", &f)
		if n != 4 {
			return Rating{}, "", fmt.Errorf("want 4 tab-separated fields (user item rating timestamp), got %d", n)
		}
		user, movie, rating, ts = f[0], f[1], f[2], f[3]
	case Dat:
		n = splitSep(b, "::", &f)
		if n != 3 && n != 4 {
			return Rating{}, "", fmt.Errorf("want 3 or 4 \"::\"-separated fields (user::movie::rating[::timestamp]), got %d", n)
		}
		user, movie, rating = f[0], f[1], f[2]
		if n == 4 {
			ts = f[3]
		}
	case CSV:
		if bytes.IndexByte(b, '"') >= 0 {
			rec, err := csv.NewReader(bytes.NewReader(b)).Read()
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				return Rating{}, "", pe.Err // the line is known to the caller
			} else if err != nil {
				return Rating{}, "", err
			}
			n = min(len(rec), maxFields)
			for i := range n {
				f[i] = []byte(rec[i])
			}
		} else {
			n = splitSep(b, ",", &f)
		}
		if n != p.cols {
			return Rating{}, "", fmt.Errorf("want %d comma-separated fields as in the header, got %d", p.cols, n)
		}
		user, movie, rating = f[p.userCol], f[p.movieCol], f[p.ratingCol]
		if p.timeCol >= 0 {
			ts = f[p.timeCol]
		}
	case Plain:
		if !p.sepSet {
			p.sepSet = true
			if bytes.IndexByte(b, ',') >= 0 {
				p.sep = ","
			}
		}
		if p.sep == "," {
			n = splitSep(b, ",", &f)
		} else {
			n = splitSpace(b, &f)
		}
		if n != 3 && n != 4 {
			return Rating{}, "", fmt.Errorf("want 3 or 4 fields (user item rating [timestamp]), got %d", n)
		}
		user, movie, rating = f[0], f[1], f[2]
		if n == 4 {
			ts = f[3]
		}
	}
	var rt Rating
	var err error
	if rt.User, err = p.id(user); err != nil {
		return Rating{}, "user", err
	}
	if rt.Movie, err = p.id(movie); err != nil {
		return Rating{}, "movie", err
	}
	if rt.Value, err = parseValue(rating, p.anyScale); err != nil {
		return Rating{}, "rating", err
	}
	if ts != nil {
		if rt.Time, err = parseTime(ts); err != nil {
			return Rating{}, "timestamp", err
		}
	}
	return rt, "", nil
}

// id returns the trimmed id, shared with earlier lines that had the same id
// so that 25M lines do not make 50M small strings.
func (p *ratingParser) id(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", errors.New("empty")
	}
	if s, ok := p.ids[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(p.ids) < maxInterned {
		p.ids[s] = s
	}
	return s, nil
}

// MinRating and MaxRating bound a rating value.
const (
	MinRating = 0.5
	MaxRating = 5.0
)

func parseValue(b []byte, anyScale bool) (float64, error) {
	b = bytes.TrimSpace(b)
	var v float64
	// Fast path for the usual "4", "4.0", "3.5".
	switch {
	case len(b) == 1 && b[0] >= '0' && b[0] <= '9':
		v = float64(b[0] - '0')
	case len(b) == 3 && b[1] == '.' && b[0] >= '0' && b[0] <= '9' && (b[2] == '0' || b[2] == '5'):
		v = float64(b[0]-'0') + float64(b[2]-'0')/10
	default:
		var err error
		v, err = strconv.ParseFloat(string(b), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", b)
		}
	}
	if anyScale {
		if !(v > 0 && v <= MaxAnyScale) {
			return 0, fmt.Errorf("%s is out of range: a rating must be above 0 and at most %v", b, MaxAnyScale)
		}
		return v, nil
	}
	if math.IsNaN(v) || v < MinRating || v > MaxRating {
		return 0, fmt.Errorf("%s is out of range %v..%v", b, MinRating, MaxRating)
	}
	return v, nil
}

func parseTime(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, nil
	}
	t, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Unix time in seconds", b)
	}
	if t < 0 {
		return 0, fmt.Errorf("%d is negative", t)
	}
	return t, nil
}

// splitSep splits b at sep into f and returns the number of fields (which
// may exceed len(f); the extra ones are not stored).
func splitSep(b []byte, sep string, f *[maxFields][]byte) int {
	n := 0
	for {
		i := bytes.Index(b, []byte(sep))
		if i < 0 {
			break
		}
		if n < maxFields {
			f[n] = b[:i]
		}
		n++
		b = b[i+len(sep):]
	}
	if n < maxFields {
		f[n] = b
	}
	return n + 1
}

// splitSpace splits b at runs of spaces and tabs.
func splitSpace(b []byte, f *[maxFields][]byte) int {
	n := 0
	for i := 0; i < len(b); {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		if n < maxFields {
			f[n] = b[i:j]
		}
		n++
		i = j
	}
	return n
}
