package store_test

import (
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

func openPostgres(t testing.TB) *store.Store {
	t.Helper()
	return storetest.Open(t, store.Config{DatabaseURL: pgtest.NewDatabase(t)})
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, storetest.OpenSQLite)
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, openPostgres)
}

// testConcurrentOpen starts several stores on one empty database at once:
// each migrates at Open, and exactly one set of migrations must land.
func testConcurrentOpen(t *testing.T, cfg store.Config) {
	const n = 4
	var wg sync.WaitGroup
	stores := make([]*store.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = store.Open(context.Background(), cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	ms, err := store.Migrations(stores[0].Dialect())
	if err != nil {
		t.Fatal(err)
	}
	v, err := stores[0].SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v != ms[len(ms)-1].Version {
		t.Errorf("schema version %d, want %d", v, ms[len(ms)-1].Version)
	}
	if err := stores[n-1].Register(context.Background(), storetest.Record(1)); err != nil {
		t.Errorf("register after concurrent migration: %v", err)
	}
}

func TestConcurrentOpenSQLite(t *testing.T) {
	testConcurrentOpen(t, store.Config{Path: filepath.Join(t.TempDir(), "x", "swipeflix.db")})
}

func TestConcurrentOpenPostgres(t *testing.T) {
	testConcurrentOpen(t, store.Config{DatabaseURL: pgtest.EmptyDatabase(t)})
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"SWIPEFLIX_DATA_DIR": "/data"}
	cfg := store.ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.DatabaseURL != "" || cfg.Path != "/data/swipeflix.db" {
		t.Errorf("config %+v", cfg)
	}
	env = map[string]string{"DATABASE_URL": "postgres://x/y"}
	cfg = store.ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.DatabaseURL != "postgres://x/y" || cfg.Path != "var/swipeflix.db" {
		t.Errorf("config %+v", cfg)
	}
}

// testExplicitMigrate is what a `swipeflix migrate` command does: open
// without migrating, then Migrate, then again (a no-op).
func testExplicitMigrate(t *testing.T, cfg store.Config) {
	ctx := context.Background()
	cfg.SkipMigrate = true
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("schema version of an empty database: %d, %v; want 0", v, err)
	}
	ms, err := store.Migrations(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Migrate(ctx); err != nil || n != len(ms) {
		t.Fatalf("migrate applied %d, %v; want %d", n, err, len(ms))
	}
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate applied %d, %v; want 0", n, err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != ms[len(ms)-1].Version {
		t.Errorf("schema version %d, %v", v, err)
	}
}

func TestExplicitMigrateSQLite(t *testing.T) {
	testExplicitMigrate(t, store.Config{Path: filepath.Join(t.TempDir(), "swipeflix.db")})
}

func TestExplicitMigratePostgres(t *testing.T) {
	testExplicitMigrate(t, store.Config{DatabaseURL: pgtest.EmptyDatabase(t)})
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = store.Open(ctx, store.Config{DatabaseURL: "postgres://postgres@" + addr + "/x?connect_timeout=2"})
	if err == nil || !strings.Contains(err.Error(), "postgres") || !strings.Contains(err.Error(), "ping") {
		t.Errorf("open unreachable: %v, want an error naming postgres and ping", err)
	}
	if _, err := store.Open(ctx, store.Config{DatabaseURL: "mysql://nope"}); err == nil {
		t.Error("open with a non-postgres URL succeeded")
	}
}

// TestDefaultEmbeddedPath: with nothing configured the store lives in
// ./var/swipeflix.db, created on first use.
func TestDefaultEmbeddedPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := store.Open(context.Background(), store.ConfigFromEnv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != store.SQLite {
		t.Errorf("dialect %s, want sqlite", s.Dialect())
	}
	if _, err := os.Stat(filepath.Join(dir, "var", "swipeflix.db")); err != nil {
		t.Errorf("embedded file not at ./var/swipeflix.db: %v", err)
	}
}

// TestPostgresPagingIgnoresDatabaseCollation: under a linguistic collation
// (ICU en-US sorts "a11" before "M7") movie pages still come in byte order,
// the order SQLite uses and the one Movies promises.
func TestPostgresPagingIgnoresDatabaseCollation(t *testing.T) {
	ctx := context.Background()
	requireICU(t)
	u := pgtest.EmptyDatabaseWith(t, `TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`)
	s, err := store.Open(ctx, store.Config{DatabaseURL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ms []dataset.Movie
	for _, id := range []string{"a11", "M7", "1", "b", "Z"} {
		ms = append(ms, dataset.Movie{ID: id, Title: "t " + id})
	}
	if err := s.UpsertMovies(ctx, ms); err != nil {
		t.Fatal(err)
	}
	got := storetest.PagedMovieIDs(t, s, 2)
	if want := []string{"1", "M7", "Z", "a11", "b"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages %v, want byte order %v", got, want)
	}
}

// requireICU skips when the server was built without ICU (a capability of
// the build, not the server's availability, so no REQUIRE override).
func requireICU(t *testing.T) {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT count(*) FROM pg_collation WHERE collprovider = 'i' AND collname = 'en-US-x-icu'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Skip("server has no ICU en-US collation")
	}
}
