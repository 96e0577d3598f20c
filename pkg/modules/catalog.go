package modules

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// catalogStore is what the catalog reads and writes (*store.Store).
type catalogStore interface {
	UpsertMovies(ctx context.Context, ms []dataset.Movie) error
	AllMovies(ctx context.Context) iter.Seq2[dataset.Movie, error]
	Movie(ctx context.Context, id string) (dataset.Movie, error)
}

// CatalogCache is the process's view of the movie catalog: the store's
// movies, kept in memory so that lookups on hot paths (drift's genre mix,
// the trainer's new movies) cost a map read, and refreshed from the store
// in the background. While the store cannot be reached, it serves the last
// movies it read, or the folder it loaded at start, and stores that folder
// once the database answers.
type CatalogCache struct {
	st  catalogStore
	log *slog.Logger
	// RefreshEvery is the period of the background refresh.
	RefreshEvery time.Duration

	mu      sync.RWMutex
	list    []dataset.Movie
	byID    map[string]int
	pending []dataset.Movie // loaded from a folder, not yet stored
}

// NewCatalogCache returns an empty catalog over st.
func NewCatalogCache(st *store.Store, log *slog.Logger) *CatalogCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &CatalogCache{log: log, RefreshEvery: time.Minute, byID: map[string]int{}}
	if st != nil {
		c.st = st
	}
	return c
}

var _ catalogStore = (*store.Store)(nil)

// LoadDir reads the movies (and tags) of a MovieLens-format folder and
// stores them. A missing or malformed folder is an error; a store that
// cannot take them (a database outage at start) is not: the cache keeps
// them and stores them once the database answers.
func (c *CatalogCache) LoadDir(ctx context.Context, dir string) error {
	ms, err := dataset.ReadCatalog(dir)
	if err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	if ms == nil {
		return fmt.Errorf("load catalog: %s has no movies file", dir)
	}
	c.set(ms)
	if err := c.st.UpsertMovies(ctx, ms); err != nil {
		c.mu.Lock()
		c.pending = ms
		c.mu.Unlock()
		c.log.Warn("catalog not stored; serving the folder's movies until the store answers", "dir", dir, "movies", len(ms), "err", err)
		return nil
	}
	c.log.Info("catalog loaded", "dir", dir, "movies", len(ms))
	_, err = c.Refresh(ctx)
	return err
}

func (c *CatalogCache) set(ms []dataset.Movie) {
	byID := make(map[string]int, len(ms))
	for i, m := range ms {
		byID[m.ID] = i
	}
	c.mu.Lock()
	c.list, c.byID = ms, byID
	c.mu.Unlock()
}

// Refresh reads the whole catalog from the store, first storing a folder
// that is still waiting for it, and returns the number of movies.
func (c *CatalogCache) Refresh(ctx context.Context) (int, error) {
	c.mu.RLock()
	pending := c.pending
	c.mu.RUnlock()
	if pending != nil {
		if err := c.st.UpsertMovies(ctx, pending); err != nil {
			return 0, fmt.Errorf("store pending catalog: %w", err)
		}
		c.mu.Lock()
		c.pending = nil
		c.mu.Unlock()
		c.log.Info("catalog stored after the outage", "movies", len(pending))
	}
	var ms []dataset.Movie
	for m, err := range c.st.AllMovies(ctx) {
		if err != nil {
			return 0, fmt.Errorf("read catalog: %w", err)
		}
		ms = append(ms, m)
	}
	c.set(ms)
	return len(ms), nil
}

// Movies returns the catalog, as fresh as the store allows: it reads the
// store, and falls back on the last movies read when it cannot. The slice
// is shared: do not modify it.
func (c *CatalogCache) Movies(ctx context.Context) []dataset.Movie {
	if _, err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
		c.mu.RLock()
		n := len(c.list)
		c.mu.RUnlock()
		c.log.Warn("read catalog, using the last one read", "movies", n, "err", err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.list
}

// Movie returns a movie from memory, else from the store (a movie added
// since the last refresh); ok is false when neither knows it.
func (c *CatalogCache) Movie(ctx context.Context, id string) (m dataset.Movie, ok bool) {
	c.mu.RLock()
	i, ok := c.byID[id]
	if ok {
		m = c.list[i]
	}
	c.mu.RUnlock()
	if ok || c.st == nil {
		return m, ok
	}
	m, err := c.st.Movie(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Debug("catalog lookup", "movie", id, "err", err)
		}
		return dataset.Movie{}, false
	}
	return m, true
}

// Genres returns a movie's genres from memory (nil when unknown). It never
// touches the store: it is for per-event hot paths.
func (c *CatalogCache) Genres(id string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if i, ok := c.byID[id]; ok {
		return c.list[i].Genres
	}
	return nil
}

// Len is the number of movies in memory.
func (c *CatalogCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.list)
}

// Run refreshes the catalog every RefreshEvery until ctx ends, so that
// movies another process loaded (swipeflix catalog load) show up.
func (c *CatalogCache) Run(ctx context.Context) error {
	t := time.NewTicker(c.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				c.log.Debug("refresh catalog", "err", err)
			}
		}
	}
}
