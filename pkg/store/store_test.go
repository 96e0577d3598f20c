package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

func openSQLite(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "swipeflix.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DatabaseURL: pgtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
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
