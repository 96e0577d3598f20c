package driftsvc

import (
	"context"
	"fmt"
	"sync"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/drift"
)

// Catalog gives genre_mix the genres of each movie. Genres is called while
// a report is compared and must not block on I/O; Refresh reloads what the
// catalog knows and says how many movies it has. The service refreshes at
// start and again when a report counted movies without genres (see
// Config.CatalogRefresh), so a catalog loaded after the service started
// (the trainer loads the starter catalog while drift starts) is picked up.
type Catalog interface {
	drift.GenreLookup
	Refresh(ctx context.Context) (movies int, err error)
}

// GenreMap is a Catalog over a fixed movie-to-genres map (a movies file).
type GenreMap map[string][]string

var _ Catalog = GenreMap(nil)

// Genres returns the movie's genres, or none for an unknown movie.
func (g GenreMap) Genres(movieID string) []string { return g[movieID] }

// Refresh has nothing to reload: the map is fixed.
func (g GenreMap) Refresh(context.Context) (int, error) { return len(g), nil }

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

// MovieLister pages through the movie catalog by id; *store.Store
// implements it.
type MovieLister interface {
	Movies(ctx context.Context, after string, limit int) ([]dataset.Movie, error)
}

// StoreCatalog is the Catalog of the system-of-record store (Postgres or
// the embedded SQL store): Refresh reads every movie's genres, Genres
// answers from the last read.
type StoreCatalog struct {
	src MovieLister

	mu     sync.RWMutex
	genres GenreMap
}

var _ Catalog = (*StoreCatalog)(nil)

// NewStoreCatalog returns a catalog over src; it knows no movie until the
// first Refresh.
func NewStoreCatalog(src MovieLister) *StoreCatalog { return &StoreCatalog{src: src} }

// catalogPage is how many movies one query reads.
const catalogPage = 1000

// Refresh reads the whole catalog again. On error the last read stays.
func (c *StoreCatalog) Refresh(ctx context.Context) (int, error) {
	g := GenreMap{}
	after := ""
	for {
		page, err := c.src.Movies(ctx, after, catalogPage)
		if err != nil {
			return 0, fmt.Errorf("catalog genres after %q: %w", after, err)
		}
		for _, m := range page {
			g[m.ID] = m.Genres
		}
		if len(page) < catalogPage {
			break
		}
		after = page[len(page)-1].ID
	}
	c.mu.Lock()
	c.genres = g
	c.mu.Unlock()
	return len(g), nil
}

// Genres returns the movie's genres as of the last Refresh.
func (c *StoreCatalog) Genres(movieID string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.genres[movieID]
}
