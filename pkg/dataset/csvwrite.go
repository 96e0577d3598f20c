package dataset

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteMoviesCSV writes the catalog as MovieLens' movies.csv
// (movieId,title,genres), quoting titles that hold commas or quotes.
func (s *Synthetic) WriteMoviesCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"movieId", "title", "genres"})
	for _, m := range s.Catalog {
		g := strings.Join(m.Genres, "|")
		if g == "" {
			g = noGenres
		}
		_ = cw.Write([]string{m.ID, m.Title, g})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write movies.csv: %w", err)
	}
	return nil
}

// WriteTagsCSV writes the tag applications as MovieLens' tags.csv
// (userId,movieId,tag,timestamp).
func (s *Synthetic) WriteTagsCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"userId", "movieId", "tag", "timestamp"})
	for _, t := range s.MovieTags {
		_ = cw.Write([]string{t.User, t.Movie, t.Tag, strconv.FormatInt(t.Time, 10)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write tags.csv: %w", err)
	}
	return nil
}
