package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// ML100KGenres are the 19 genre flags of u.item, in u.genre order. The
// first, "unknown", is read as no genre.
var ML100KGenres = [19]string{
	"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
	"Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
	"Romance", "Sci-Fi", "Thriller", "War", "Western",
}

// noGenres is how MovieLens CSV and .dat files spell an empty genre list.
const noGenres = "(no genres listed)"

// ReadMovies reads a movie catalog: ml-100k u.item (latin-1, "|"-separated,
// 19 genre flags), movies.csv (header movieId,title,genres; genres
// "|"-separated) or movies.dat (MovieID::Title::Genres, latin-1 in ml-1m).
// The layout is detected from the first line. Movies come in file order; a
// duplicate id is an error.
func ReadMovies(path string) ([]Movie, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read movies: %w", err)
	}
	defer f.Close()
	return ReadMoviesFrom(f, path)
}

// ReadMoviesFrom is ReadMovies on any reader; name is used in errors.
func ReadMoviesFrom(r io.Reader, name string) ([]Movie, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := peekLine(br)
	if err != nil {
		return nil, fmt.Errorf("read movies %s: %w", name, err)
	}
	first = bytes.TrimPrefix(first, utf8BOM)
	var movies []Movie
	switch {
	case len(bytes.TrimSpace(first)) == 0:
		return nil, nil
	case bytes.HasPrefix(bytes.ToLower(first), []byte("movieid,")):
		movies, err = readMoviesCSV(br, name)
	case bytes.Count(first, []byte{'|'}) == 23:
		movies, err = readUItem(br, name)
	case bytes.Contains(first, []byte("::")):
		movies, err = readMoviesDat(br, name)
	default:
		return nil, &ParseError{File: name, Line: 1, Reason: "not a movies file: want u.item (24 \"|\"-separated fields), movies.csv (header movieId,title,genres) or movies.dat (id::title::genres)"}
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(movies))
	for i, m := range movies {
		if j, ok := seen[m.ID]; ok {
			return nil, fmt.Errorf("%w: %s: movie id %q appears twice (entries %d and %d)", ErrFormat, name, m.ID, j+1, i+1)
		}
		seen[m.ID] = i
	}
	return movies, nil
}

// lines calls fn for each non-blank line of r without its line ending.
func lines(r io.Reader, name string, fn func(line int, b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if n == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &ParseError{File: name, Line: n + 1, Reason: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func readUItem(r io.Reader, name string) ([]Movie, error) {
	dec := charmap.ISO8859_1.NewDecoder()
	var movies []Movie
	err := lines(r, name, func(line int, b []byte) error {
		utf, err := dec.Bytes(b)
		if err != nil {
			return &ParseError{File: name, Line: line, Reason: "decode latin-1: " + err.Error()}
		}
		f := strings.Split(string(utf), "|")
		if len(f) != 5+len(ML100KGenres) {
			return &ParseError{File: name, Line: line, Reason: fmt.Sprintf("want %d \"|\"-separated fields, got %d", 5+len(ML100KGenres), len(f))}
		}
		m := Movie{ID: strings.TrimSpace(f[0]), Title: strings.TrimSpace(f[1])}
		if m.ID == "" {
			return &ParseError{File: name, Line: line, Field: "movie_id", Reason: "empty"}
		}
		m.Year = titleYear(m.Title)
		if m.Year == 0 {
			m.Year = releaseYear(f[2])
		}
		for i, flag := range f[5:] {
			switch flag {
			case "0":
			case "1":
				if i > 0 {
					m.Genres = append(m.Genres, ML100KGenres[i])
				}
			default:
				return &ParseError{File: name, Line: line, Field: "genre " + ML100KGenres[i], Reason: fmt.Sprintf("flag %q is not 0 or 1", flag)}
			}
		}
		movies = append(movies, m)
		return nil
	})
	return movies, err
}

func readMoviesDat(r io.Reader, name string) ([]Movie, error) {
	var movies []Movie
	err := lines(r, name, func(line int, b []byte) error {
		f := strings.Split(text(b), "::")
		if len(f) != 3 {
			return &ParseError{File: name, Line: line, Reason: fmt.Sprintf("want 3 \"::\"-separated fields (id::title::genres), got %d", len(f))}
		}
		m, field, err := newMovie(f[0], f[1], f[2])
		if err != nil {
			return &ParseError{File: name, Line: line, Field: field, Reason: err.Error()}
		}
		movies = append(movies, m)
		return nil
	})
	return movies, err
}

func readMoviesCSV(r io.Reader, name string) ([]Movie, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, csvError(name, err)
	}
	idCol, titleCol, genresCol := -1, -1, -1
	for i, c := range head {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(c, "\ufeff"))) {
		case "movieid", "movie_id", "id":
			idCol = i
		case "title":
			titleCol = i
		case "genres":
			genresCol = i
		}
	}
	if idCol < 0 || titleCol < 0 {
		return nil, &ParseError{File: name, Line: 1, Field: "header", Reason: fmt.Sprintf("want columns movieId,title[,genres], got %q", strings.Join(head, ","))}
	}
	var movies []Movie
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return movies, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		genres := ""
		if genresCol >= 0 {
			genres = rec[genresCol]
		}
		m, field, err := newMovie(rec[idCol], text([]byte(rec[titleCol])), genres)
		if err != nil {
			line, _ := cr.FieldPos(0)
			return nil, &ParseError{File: name, Line: line, Field: field, Reason: err.Error()}
		}
		movies = append(movies, m)
	}
}

// csvError turns an encoding/csv error into a *ParseError with its line.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// A stray quote makes a record run on over later lines; the record's
		// first line is where to look.
		reason := pe.Err.Error()
		if pe.Line != pe.StartLine {
			reason += fmt.Sprintf(" (the quoted field runs on to line %d)", pe.Line)
		}
		return &ParseError{File: name, Line: pe.StartLine, Reason: reason}
	}
	return fmt.Errorf("read %s: %w", name, err)
}

func newMovie(id, title, genres string) (Movie, string, error) {
	m := Movie{ID: strings.TrimSpace(id), Title: strings.TrimSpace(title)}
	if m.ID == "" {
		return Movie{}, "movie_id", errors.New("empty")
	}
	m.Year = titleYear(m.Title)
	m.Genres = splitGenres(genres)
	return m, "", nil
}

func splitGenres(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == noGenres {
		return nil
	}
	var out []string
	for g := range strings.SplitSeq(s, "|") {
		if g = strings.TrimSpace(g); g != "" && g != noGenres {
			out = append(out, g)
		}
	}
	return out
}

// text returns b as UTF-8: as is when it is valid UTF-8, otherwise decoded
// as latin-1 (ml-1m's movies.dat).
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.ISO8859_1.NewDecoder().Bytes(b)
	if err != nil { // latin-1 maps every byte; keep the bytes if it ever fails
		return string(b)
	}
	return string(s)
}

// titleYear reads the year of "Title (1995)"; it also accepts a range such as
// "(2006-2007)" or "(2016– )". It returns 0 when the title ends otherwise.
func titleYear(title string) int {
	t := strings.TrimSpace(title)
	if !strings.HasSuffix(t, ")") {
		return 0
	}
	open := strings.LastIndexByte(t, '(')
	if open < 0 || len(t)-open < 6 {
		return 0
	}
	in := t[open+1 : len(t)-1]
	y, err := strconv.Atoi(in[:4])
	if err != nil || in[0] == '+' || in[0] == '-' {
		return 0
	}
	if rest := strings.TrimSpace(in[4:]); rest != "" && !strings.HasPrefix(rest, "-") && !strings.HasPrefix(rest, "–") {
		return 0
	}
	return y
}

// releaseYear reads the year of an ml-100k release date "01-Jan-1995".
func releaseYear(d string) int {
	d = strings.TrimSpace(d)
	if len(d) < 4 {
		return 0
	}
	y, err := strconv.Atoi(d[len(d)-4:])
	if err != nil || y < 0 {
		return 0
	}
	return y
}

// ReadTags reads tags.csv (header userId,movieId,tag,timestamp) or tags.dat
// (UserID::MovieID::Tag::Timestamp) into the distinct tags of each movie, in
// order of first use. Tags differing only in case count as one.
func ReadTags(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	defer f.Close()
	return ReadTagsFrom(f, path)
}

// ReadTagsFrom is ReadTags on any reader; name is used in errors.
func ReadTagsFrom(r io.Reader, name string) (map[string][]string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := peekLine(br)
	if err != nil {
		return nil, fmt.Errorf("read tags %s: %w", name, err)
	}
	first = bytes.TrimPrefix(first, utf8BOM)
	tags := make(map[string][]string)
	seen := make(map[[2]string]bool)
	add := func(movie, tag string) {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			return
		}
		k := [2]string{movie, strings.ToLower(tag)}
		if !seen[k] {
			seen[k] = true
			tags[movie] = append(tags[movie], tag)
		}
	}
	switch {
	case len(bytes.TrimSpace(first)) == 0:
		return tags, nil
	case bytes.Contains(first, []byte("::")):
		err = lines(br, name, func(line int, b []byte) error {
			f := strings.Split(text(b), "::")
			if len(f) != 4 && len(f) != 3 {
				return &ParseError{File: name, Line: line, Reason: fmt.Sprintf("want 4 \"::\"-separated fields (user::movie::tag::timestamp), got %d", len(f))}
			}
			movie := strings.TrimSpace(f[1])
			if movie == "" {
				return &ParseError{File: name, Line: line, Field: "movie", Reason: "empty"}
			}
			add(movie, f[2])
			return nil
		})
	case bytes.Contains(bytes.ToLower(first), []byte("movieid")):
		cr := csv.NewReader(br)
		cr.ReuseRecord = true
		head, rerr := cr.Read()
		if rerr != nil {
			return nil, csvError(name, rerr)
		}
		movieCol, tagCol := -1, -1
		for i, c := range head {
			switch strings.ToLower(strings.TrimSpace(c)) {
			case "movieid", "movie_id":
				movieCol = i
			case "tag":
				tagCol = i
			}
		}
		if movieCol < 0 || tagCol < 0 {
			return nil, &ParseError{File: name, Line: 1, Field: "header", Reason: fmt.Sprintf("want columns movieId and tag, got %q", strings.Join(head, ","))}
		}
		for {
			rec, rerr := cr.Read()
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return nil, csvError(name, rerr)
			}
			movie := strings.TrimSpace(rec[movieCol])
			if movie == "" {
				line, _ := cr.FieldPos(movieCol)
				return nil, &ParseError{File: name, Line: line, Field: "movie", Reason: "empty"}
			}
			add(movie, text([]byte(rec[tagCol])))
		}
	default:
		return nil, &ParseError{File: name, Line: 1, Reason: "not a tags file: want tags.csv (header userId,movieId,tag,timestamp) or tags.dat (user::movie::tag::timestamp)"}
	}
	if err != nil {
		return nil, err
	}
	return tags, nil
}
