package driftsvc

import (
	"fmt"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
)

// GenreMap is a drift.GenreLookup over a fixed movie-to-genres map.
type GenreMap map[string][]string

var _ drift.GenreLookup = GenreMap(nil)

// Genres returns the movie's genres, or none for an unknown movie.
func (g GenreMap) Genres(movieID string) []string { return g[movieID] }

// LoadGenres reads a MovieLens movies file (movies.csv, movies.dat or
// u.item) into a GenreMap.
func LoadGenres(path string) (GenreMap, error) {
	movies, err := dataset.ReadMovies(path)
	if err != nil {
		return nil, fmt.Errorf("load genres: %w", err)
	}
	g := make(GenreMap, len(movies))
	for _, m := range movies {
		g[m.ID] = m.Genres
	}
	return g, nil
}
