package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// RatingWriter writes ratings one at a time in a layout, so any number of
// them can be written without holding them. Call Flush at the end.
type RatingWriter struct {
	w      *bufio.Writer
	layout Layout
	buf    []byte
}

// NewRatingWriter starts a ratings file in layout (not Auto); for CSV it
// writes the header.
func NewRatingWriter(w io.Writer, layout Layout) (*RatingWriter, error) {
	rw := &RatingWriter{w: bufio.NewWriterSize(w, 64<<10), layout: layout}
	switch layout {
	case CSV:
		if _, err := rw.w.WriteString("userId,movieId,rating,timestamp\n"); err != nil {
			return nil, fmt.Errorf("write ratings header: %w", err)
		}
	case ML100K, Dat, Plain:
	default:
		return nil, fmt.Errorf("write ratings: unknown layout %q", layout)
	}
	return rw, nil
}

// Write writes one rating line.
func (rw *RatingWriter) Write(r Rating) error {
	sep := "\t"
	switch rw.layout {
	case CSV:
		sep = ","
	case Dat:
		sep = "::"
	case Plain:
		sep = " "
	}
	for _, id := range [2]string{r.User, r.Movie} {
		if id == "" || strings.Contains(id, sep) || strings.ContainsAny(id, "\r\n") {
			return fmt.Errorf("write rating: id %q is empty or holds the separator %q or a line break", id, sep)
		}
	}
	b := rw.buf[:0]
	b = append(b, r.User...)
	b = append(b, sep...)
	b = append(b, r.Movie...)
	b = append(b, sep...)
	if rw.layout == CSV && r.Value*2 == math.Trunc(r.Value*2) {
		b = strconv.AppendFloat(b, r.Value, 'f', 1, 64) // "4.0", as ml-latest writes it
	} else {
		b = strconv.AppendFloat(b, r.Value, 'f', -1, 64)
	}
	b = append(b, sep...)
	b = strconv.AppendInt(b, r.Time, 10)
	b = append(b, '\n')
	rw.buf = b
	if _, err := rw.w.Write(b); err != nil {
		return fmt.Errorf("write rating: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (rw *RatingWriter) Flush() error {
	if err := rw.w.Flush(); err != nil {
		return fmt.Errorf("write ratings: %w", err)
	}
	return nil
}

// WriteRatings streams every rating of s to w in layout, in time order.
func (s *Synthetic) WriteRatings(w io.Writer, layout Layout) error {
	rw, err := NewRatingWriter(w, layout)
	if err != nil {
		return err
	}
	if err := s.Each(rw.Write); err != nil {
		return err
	}
	return rw.Flush()
}

// Folds is the number of cross-validation folds WriteDir writes for ml-100k.
const Folds = 5

// Fold is the cross-validation fold (0..Folds-1) of a (user, movie) pair in
// the ml-100k files WriteDir writes: a hash of the pair, so the folds are
// disjoint, each about a fifth of the data, and found without state.
func Fold(user, movie string) int {
	h := uint64(14695981039346656037)
	for _, s := range [2]string{user, movie} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return int(h % Folds)
}

// WriteDir writes s into dir (created if missing) as the files a MovieLens
// download in that layout has, which Open and the readers accept:
//   - ML100K: u.data, u1..u5.base/test (folds by Fold), u.item (latin-1),
//     u.genre, u.info;
//   - CSV: ratings.csv, movies.csv, tags.csv;
//   - Dat: ratings.dat, movies.dat (latin-1, as ml-1m), tags.dat;
//   - Plain: ratings.txt ("user movie rating timestamp").
func (s *Synthetic) WriteDir(dir string, layout Layout) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write dataset: %w", err)
	}
	var files []*os.File
	create := func(name string) (*os.File, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("write dataset: %w", err)
		}
		files = append(files, f)
		return f, nil
	}
	defer func() {
		for _, f := range files {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("write dataset: %w", cerr)
			}
		}
	}()
	switch layout {
	case ML100K:
		return s.writeML100K(create)
	case CSV:
		return s.writeCSV(create)
	case Dat:
		return s.writeDat(create)
	case Plain:
		f, err := create("ratings.txt")
		if err != nil {
			return err
		}
		return s.WriteRatings(f, Plain)
	}
	return fmt.Errorf("write dataset: unknown layout %q", layout)
}

type createFunc func(name string) (*os.File, error)

func (s *Synthetic) writeML100K(create createFunc) error {
	var ws []*RatingWriter
	for _, name := range []string{"u.data", "u1.base", "u1.test", "u2.base", "u2.test", "u3.base", "u3.test", "u4.base", "u4.test", "u5.base", "u5.test"} {
		f, err := create(name)
		if err != nil {
			return err
		}
		rw, err := NewRatingWriter(f, ML100K)
		if err != nil {
			return err
		}
		ws = append(ws, rw)
	}
	err := s.Each(func(r Rating) error {
		if err := ws[0].Write(r); err != nil {
			return err
		}
		fold := Fold(r.User, r.Movie)
		for i := range Folds {
			w := ws[1+2*i] // base
			if i == fold {
				w = ws[2+2*i] // test
			}
			if err := w.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := w.Flush(); err != nil {
			return err
		}
	}

	var item strings.Builder
	for _, m := range s.Catalog {
		flags := make([]string, len(ML100KGenres))
		for i := range flags {
			flags[i] = "0"
			if i > 0 && containsFold(m.Genres, ML100KGenres[i]) {
				flags[i] = "1"
			}
		}
		fmt.Fprintf(&item, "%s|%s|01-Jan-%d||http://example.invalid/%s|%s\n", m.ID, m.Title, m.Year, m.ID, strings.Join(flags, "|"))
	}
	latin1, err := charmap.ISO8859_1.NewEncoder().String(item.String())
	if err != nil {
		return fmt.Errorf("write u.item: encode latin-1: %w", err)
	}
	var genre strings.Builder
	for i, g := range ML100KGenres {
		fmt.Fprintf(&genre, "%s|%d\n", g, i)
	}
	genre.WriteString("\n")
	info := fmt.Sprintf("%d users\n%d items\n%d ratings\n", s.Config.Users, s.Config.Movies, s.Config.Ratings)
	for name, text := range map[string]string{"u.item": latin1, "u.genre": genre.String(), "u.info": info} {
		if err := writeFile(create, name, text); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(create createFunc, name, text string) error {
	f, err := create(name)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func (s *Synthetic) writeCSV(create createFunc) error {
	f, err := create("ratings.csv")
	if err != nil {
		return err
	}
	if err := s.WriteRatings(f, CSV); err != nil {
		return err
	}
	mf, err := create("movies.csv")
	if err != nil {
		return err
	}
	if err := s.WriteMoviesCSV(mf); err != nil {
		return err
	}
	tf, err := create("tags.csv")
	if err != nil {
		return err
	}
	return s.WriteTagsCSV(tf)
}

func (s *Synthetic) writeDat(create createFunc) error {
	f, err := create("ratings.dat")
	if err != nil {
		return err
	}
	if err := s.WriteRatings(f, Dat); err != nil {
		return err
	}
	var movies, tags strings.Builder
	for _, m := range s.Catalog {
		if strings.Contains(m.Title, "::") {
			return errors.New("write movies.dat: a title contains \"::\"")
		}
		g := strings.Join(m.Genres, "|")
		if g == "" {
			g = noGenres
		}
		fmt.Fprintf(&movies, "%s::%s::%s\n", m.ID, m.Title, g)
	}
	latin1, err := charmap.ISO8859_1.NewEncoder().String(movies.String())
	if err != nil {
		return fmt.Errorf("write movies.dat: encode latin-1: %w", err)
	}
	for _, t := range s.MovieTags {
		fmt.Fprintf(&tags, "%s::%s::%s::%d\n", t.User, t.Movie, t.Tag, t.Time)
	}
	if err := writeFile(create, "movies.dat", latin1); err != nil {
		return err
	}
	return writeFile(create, "tags.dat", tags.String())
}
