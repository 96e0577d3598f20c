package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
)

// moviesPage is how many movies AllMovies reads per query.
const moviesPage = 1000

const movieCols = `id, title, year, genres, tags, overview`

func validateMovies(ms []dataset.Movie) error {
	for i, m := range ms {
		switch {
		case m.ID == "":
			return fmt.Errorf("%w: movies[%d].id is empty", ErrInvalid, i)
		case len(m.ID) > events.MaxIDLen:
			return fmt.Errorf("%w: movies[%d].id is longer than %d bytes", ErrInvalid, i, events.MaxIDLen)
		case strings.TrimSpace(m.Title) == "":
			return fmt.Errorf("%w: movies[%d].title is empty (id %q)", ErrInvalid, i, m.ID)
		case m.Year < 0:
			return fmt.Errorf("%w: movies[%d].year is negative (id %q)", ErrInvalid, i, m.ID)
		}
		for _, f := range []string{m.ID, m.Title, m.Overview} {
			// Postgres text refuses NUL and broken UTF-8; catch it here
			// with a message that names the movie.
			if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
				return fmt.Errorf("%w: movies[%d] (id %q) has a NUL byte or invalid UTF-8", ErrInvalid, i, m.ID)
			}
		}
	}
	return nil
}

// dedupe keeps the last entry of each id, in first-seen order: a batch upsert
// may not touch a row twice.
func dedupe(ms []dataset.Movie) []dataset.Movie {
	at := make(map[string]int, len(ms))
	out := make([]dataset.Movie, 0, len(ms))
	for _, m := range ms {
		if i, ok := at[m.ID]; ok {
			out[i] = m
			continue
		}
		at[m.ID] = len(out)
		out = append(out, m)
	}
	return out
}

func listJSON(xs []string) string {
	if xs == nil {
		xs = []string{}
	}
	b, _ := json.Marshal(xs) // a []string always encodes
	return string(b)
}

// UpsertMovies inserts or replaces movies by id, all in one transaction.
// Postgres loads them with COPY into a temporary table and one
// INSERT ... ON CONFLICT; SQLite with one prepared upsert per movie.
// A later entry with the same id wins.
func (s *Store) UpsertMovies(ctx context.Context, ms []dataset.Movie) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if err := validateMovies(ms); err != nil {
		return fmt.Errorf("upsert movies: %w", err)
	}
	ms = dedupe(ms)
	if len(ms) == 0 {
		return nil
	}
	var err error
	if s.dialect == Postgres {
		err = s.copyMovies(ctx, ms)
	} else {
		err = s.insertMovies(ctx, ms)
	}
	if err != nil {
		return fmt.Errorf("upsert %d movies: %w", len(ms), err)
	}
	return nil
}

const movieUpsert = ` ON CONFLICT (id) DO UPDATE SET title = excluded.title, year = excluded.year,
	genres = excluded.genres, tags = excluded.tags, overview = excluded.overview, updated_at = excluded.updated_at`

func (s *Store) copyMovies(ctx context.Context, ms []dataset.Movie) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	now := s.timeArg(s.now())
	return conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE movies_load (LIKE movies INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("create load table: %w", err)
		}
		cols := []string{"id", "title", "year", "genres", "tags", "overview", "updated_at"}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"movies_load"}, cols, pgx.CopyFromSlice(len(ms), func(i int) ([]any, error) {
			m := ms[i]
			return []any{m.ID, m.Title, m.Year, listJSON(m.Genres), listJSON(m.Tags), m.Overview, now}, nil
		}))
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO movies (`+movieCols+`, updated_at) SELECT `+movieCols+`, updated_at
			FROM movies_load`+movieUpsert); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

func (s *Store) insertMovies(ctx context.Context, ms []dataset.Movie) error {
	now := s.timeArg(s.now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO movies (`+movieCols+`, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`+movieUpsert)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer st.Close()
		for _, m := range ms {
			if _, err := st.ExecContext(ctx, m.ID, m.Title, m.Year, listJSON(m.Genres), listJSON(m.Tags), m.Overview, now); err != nil {
				return fmt.Errorf("movie %q: %w", m.ID, err)
			}
		}
		return nil
	})
}

func scanMovie(row scanner) (dataset.Movie, error) {
	var (
		m            dataset.Movie
		genres, tags []byte
	)
	if err := row.Scan(&m.ID, &m.Title, &m.Year, &genres, &tags, &m.Overview); err != nil {
		return m, err
	}
	if err := json.Unmarshal(genres, &m.Genres); err != nil {
		return m, fmt.Errorf("decode genres of movie %q: %w", m.ID, err)
	}
	if err := json.Unmarshal(tags, &m.Tags); err != nil {
		return m, fmt.Errorf("decode tags of movie %q: %w", m.ID, err)
	}
	// Absent lists read back as nil, whichever way they were written.
	if len(m.Genres) == 0 {
		m.Genres = nil
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	return m, nil
}

// Movie returns one movie, or ErrNotFound.
func (s *Store) Movie(ctx context.Context, id string) (dataset.Movie, error) {
	if err := s.ready(ctx); err != nil {
		return dataset.Movie{}, err
	}
	m, err := scanMovie(s.db.QueryRowContext(ctx, `SELECT `+movieCols+` FROM movies WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("movie %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("movie %q: %w", id, err)
	}
	return m, nil
}

// Movies returns up to limit movies with ids after the given one, in id
// order (byte order): pass "" for the first page and the last id of a page
// for the next. An empty page means the end.
func (s *Store) Movies(ctx context.Context, after string, limit int) ([]dataset.Movie, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("list movies: %w: limit must be positive, got %d", ErrInvalid, limit)
	}
	// On Postgres the id column is COLLATE "C", so both engines order by
	// bytes and the primary key serves the page.
	out, err := queryAll(ctx, s.db, scanMovie, `SELECT `+movieCols+` FROM movies WHERE id > $1
		ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list movies after %q: %w", after, err)
	}
	return out, nil
}

// AllMovies iterates over the whole catalog in id order, a page at a time,
// so no connection stays busy while the caller works on a movie. It stops at
// the first error, which it yields.
func (s *Store) AllMovies(ctx context.Context) iter.Seq2[dataset.Movie, error] {
	return func(yield func(dataset.Movie, error) bool) {
		after := ""
		for {
			page, err := s.Movies(ctx, after, moviesPage)
			if err != nil {
				yield(dataset.Movie{}, err)
				return
			}
			for _, m := range page {
				if !yield(m, nil) {
					return
				}
			}
			if len(page) < moviesPage {
				return
			}
			after = page[len(page)-1].ID
		}
	}
}

// MovieCount returns the number of movies in the catalog.
func (s *Store) MovieCount(ctx context.Context) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM movies`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count movies: %w", err)
	}
	return n, nil
}

// LoadCatalog reads the movies (and tags) of a MovieLens-format folder and
// upserts them, returning how many it loaded. A `load-catalog` client command
// is this call.
func (s *Store) LoadCatalog(ctx context.Context, dir string) (int, error) {
	ms, err := dataset.ReadCatalog(dir)
	if err != nil {
		return 0, fmt.Errorf("load catalog: %w", err)
	}
	if ms == nil {
		return 0, fmt.Errorf("load catalog: %w: %s has no movies file", ErrInvalid, dir)
	}
	if err := s.UpsertMovies(ctx, ms); err != nil {
		return 0, fmt.Errorf("load catalog from %s: %w", dir, err)
	}
	return len(dedupe(ms)), nil
}
