// Package store is SwipeFlix's system of record: the model registry, the movie
// catalog and the drift report history.
//
// One concrete type, Store, runs on either of two SQL engines:
//
//   - PostgreSQL through pgx v5, when a database URL is configured;
//   - an embedded SQLite file (modernc.org/sqlite, pure Go) otherwise, so a
//     local run needs nothing installed.
//
// Both go through database/sql (pgx's stdlib driver for Postgres, which still
// gives access to pgx's COPY for bulk catalog loads), so every query the
// conformance suite (package storetest) exercises is the same code on both
// engines. The schema is versioned by embedded migrations per engine,
// applied by Open and by Migrate.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// Registers the "pgx" database/sql driver.
	_ "github.com/jackc/pgx/v5/stdlib"
	// Registers the "sqlite" database/sql driver.
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Every error the store returns for one of these conditions
// wraps the sentinel, so callers test with errors.Is.
var (
	// ErrNotFound: the model version, movie or report does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write contradicts what is stored (a version registered
	// twice with different content, a concurrent stage change).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed; the message names the field.
	ErrInvalid = errors.New("invalid")
)

// Dialect names the SQL engine behind a Store.
type Dialect string

// The engines a Store runs on.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultDataDir is where the embedded store lives when SWIPEFLIX_DATA_DIR is unset.
const DefaultDataDir = "./var"

// EmbeddedFile is the embedded store's file name inside the data directory.
const EmbeddedFile = "swipeflix.db"

// Config selects and configures the store.
type Config struct {
	// DatabaseURL is a postgres:// URL. Empty selects the embedded store.
	DatabaseURL string
	// Path is the embedded store's file; empty means DefaultDataDir/EmbeddedFile.
	// Ignored when DatabaseURL is set.
	Path string
	// SkipMigrate leaves the schema alone at Open (a `migrate` command calls
	// Migrate itself; everything else should let Open migrate).
	SkipMigrate bool
	// TolerateUnavailable lets Open succeed when Postgres does not answer
	// yet (a trainer starting during an outage keeps publishing over NATS,
	// its registry writes queued by Retrying). The schema is then brought up
	// to date by the first call that reaches the database; until then every
	// call fails with the connection error. The embedded store ignores it.
	TolerateUnavailable bool
	// Logger receives migration and connection events; nil discards them.
	Logger *slog.Logger
	// Now is the clock for registered_at and promoted_at; nil means time.Now.
	Now func() time.Time
}

// ConfigFromEnv reads DATABASE_URL and SWIPEFLIX_DATA_DIR through getenv
// (os.Getenv in a main, a map in tests).
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := Config{DatabaseURL: getenv("DATABASE_URL")}
	dir := getenv("SWIPEFLIX_DATA_DIR")
	if dir == "" {
		dir = DefaultDataDir
	}
	cfg.Path = filepath.Join(dir, EmbeddedFile)
	return cfg
}

// Store is the registry, catalog and drift history on one SQL database. It is
// safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	now     func() time.Time

	// pending is set while Open's migration is owed (TolerateUnavailable);
	// migrateMu makes one caller run it.
	pending   atomic.Bool
	migrateMu sync.Mutex
}

// Open connects to the configured database and, unless cfg.SkipMigrate,
// brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if cfg.DatabaseURL != "" {
		s.dialect = Postgres
		s.db, err = sql.Open("pgx", cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		s.db.SetMaxOpenConns(8)
		s.db.SetConnMaxIdleTime(time.Minute)
	} else {
		s.dialect = SQLite
		path := cfg.Path
		if path == "" {
			path = filepath.Join(DefaultDataDir, EmbeddedFile)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("open embedded store: create directory: %w", err)
		}
		s.db, err = sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("open embedded store %s: %w", path, err)
		}
		// SQLite has one writer at a time; one connection serialises this
		// process's writers without SQLITE_BUSY, and busy_timeout covers
		// other processes on the same file.
		s.db.SetMaxOpenConns(1)
	}
	if err = s.ping(ctx); err != nil {
		err = fmt.Errorf("ping: %w", err)
	} else if !cfg.SkipMigrate {
		_, err = s.Migrate(ctx)
	}
	if err != nil {
		if cfg.TolerateUnavailable && s.dialect == Postgres && ctx.Err() == nil {
			s.log.Warn("database unavailable at start; migrating on first use", "err", err)
			s.pending.Store(!cfg.SkipMigrate)
			return s, nil
		}
		s.db.Close()
		return nil, fmt.Errorf("open %s store: %w", s.dialect, err)
	}
	return s, nil
}

// ready runs the migration Open could not, once the database answers.
func (s *Store) ready(ctx context.Context) error {
	if !s.pending.Load() {
		return nil
	}
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	if !s.pending.Load() {
		return nil
	}
	if _, err := s.Migrate(ctx); err != nil {
		return fmt.Errorf("%s store not ready: %w", s.dialect, err)
	}
	s.pending.Store(false)
	s.log.Info("database reachable again; schema up to date")
	return nil
}

// ping checks the database answers at Open. On SQLite it retries while the
// file is busy: switching a new file to WAL takes an exclusive lock and
// SQLite reports SQLITE_BUSY for it at once, without waiting busy_timeout,
// when another connection (this process or another) is opening it too.
func (s *Store) ping(ctx context.Context) error {
	delay := time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || s.dialect != SQLite || !errors.As(err, &se) ||
			se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

func sqliteDSN(path string) string {
	q := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		// BEGIN IMMEDIATE: a transaction takes the write lock up front, so
		// two processes never deadlock upgrading read locks.
		"_txlock=immediate",
	}
	return "file:" + path + "?" + strings.Join(q, "&")
}

// Dialect reports which engine the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s store: %w", s.dialect, err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", s.dialect, err)
	}
	return nil
}

// timeArg encodes t for the engine: timestamptz on Postgres, Unix
// microseconds on SQLite. Both keep microseconds, so a value reads back the
// same on either engine.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect == SQLite {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeCol scans a time column of either engine into a UTC time; NULL gives
// the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
