// Package pgtest gives each test its own PostgreSQL database, cloned from a
// template that already holds the store's schema (the pattern of
// google/exposure-notifications-server's database_util.go): cloning is a
// file copy on the server, much faster than migrating per test.
//
// The server comes from SWIPEFLIX_TEST_DATABASE_URL (a postgres:// URL with
// rights to create databases). When it is unset the tests skip, unless
// SWIPEFLIX_REQUIRE_POSTGRES=1 (CI sets it), which makes them fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	// Registers the "pgx" database/sql driver.
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/swipeflix/swipeflix/pkg/store"
)

// Environment variables the helpers read.
const (
	EnvURL     = "SWIPEFLIX_TEST_DATABASE_URL"
	EnvRequire = "SWIPEFLIX_REQUIRE_POSTGRES"
)

// templateLockKey serialises template creation across test binaries ("SWFXTMPL").
const templateLockKey int64 = 0x53574658544d504c

// ServerURL returns the test server's URL, skipping the test when none is
// configured (failing it when EnvRequire is 1).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s is unset: PostgreSQL tests must run", EnvRequire, EnvURL)
		}
		t.Skipf("%s unset: skipping PostgreSQL test", EnvURL)
	}
	return u
}

// WithDatabase returns serverURL with its database name replaced.
func WithDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// EmptyDatabase creates a database with no schema at all and returns its
// URL; t.Cleanup drops it. Use it to test migrations themselves.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return EmptyDatabaseWith(t, "")
}

// EmptyDatabaseWith is EmptyDatabase with options appended to CREATE
// DATABASE, e.g. a collation: `TEMPLATE template0 LOCALE_PROVIDER icu
// ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`.
func EmptyDatabaseWith(t testing.TB, options string) string {
	t.Helper()
	server := ServerURL(t)
	name := "swipeflix_t_" + randomHex(t)
	admin := openAdmin(t, server)
	create(t, admin, name, "", options)
	u, err := WithDatabase(server, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// NewDatabase creates a database with the store's schema applied, cloned
// from a template, and returns its URL; t.Cleanup drops it.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	admin := openAdmin(t, server)
	tmpl := ensureTemplate(t, admin, server)
	name := "swipeflix_t_" + randomHex(t)
	create(t, admin, name, tmpl, "")
	u, err := WithDatabase(server, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	return hex.EncodeToString(b)
}

func openAdmin(t testing.TB, server string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("open %s: %v", EnvURL, err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	return db
}

// create makes database name (from tmpl when set) and drops it at cleanup.
func create(t testing.TB, admin *sql.DB, name, tmpl, options string) {
	t.Helper()
	ctx := context.Background()
	q := `CREATE DATABASE ` + quote(name)
	if tmpl != "" {
		q += ` TEMPLATE ` + quote(tmpl)
	}
	if options != "" {
		q += " " + options
	}
	if _, err := admin.ExecContext(ctx, q); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends sessions a failed test left open (PostgreSQL 13+).
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+quote(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
}

// ensureTemplate returns the name of a database holding the current
// migrations, creating it once per migration set. It stays on the server
// between runs (its name carries the migrations' digest, so a schema change
// gets a new one); DropTemplates removes them.
func ensureTemplate(t testing.TB, admin *sql.DB, server string) string {
	t.Helper()
	digest, err := store.MigrationsDigest(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	name := "swipeflix_tmpl_" + digest[:16]
	ctx := context.Background()
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatalf("template: connect: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		t.Fatalf("template: lock: %v", err)
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, templateLockKey)

	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("template: look up %s: %v", name, err)
	}
	if exists {
		return name
	}
	// Build under a temporary name and rename at the end, so a crash
	// half-way never leaves a template without its schema.
	building := name + "_new"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quote(building)+` WITH (FORCE)`); err != nil {
		t.Fatalf("template: clear %s: %v", building, err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+quote(building)); err != nil {
		t.Fatalf("template: create %s: %v", building, err)
	}
	u, err := WithDatabase(server, building)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, store.Config{DatabaseURL: u})
	if err != nil {
		t.Fatalf("template: migrate %s: %v", building, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("template: %v", err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+quote(building)+` RENAME TO `+quote(name)); err != nil {
		t.Fatalf("template: rename %s: %v", building, err)
	}
	return name
}

// DropTemplates removes every template database the helpers made, for
// cleaning a shared server.
func DropTemplates(ctx context.Context, server string) error {
	db, err := sql.Open("pgx", server)
	if err != nil {
		return fmt.Errorf("drop templates: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'swipeflix\_tmpl\_%'`)
	if err != nil {
		return fmt.Errorf("drop templates: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("drop templates: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quote(n)+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop template %s: %w", n, err)
		}
	}
	return nil
}

func quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}
