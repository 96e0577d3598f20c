package storecli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/admin"
	"github.com/swipeflix/swipeflix/pkg/store/storecli"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	e := env(map[string]string{"SWIPEFLIX_DATA_DIR": t.TempDir()})
	var out bytes.Buffer
	if err := storecli.Migrate(ctx, nil, &out, e); err != nil {
		t.Fatal(err)
	}
	if err := storecli.Migrate(ctx, nil, &out, e); err != nil {
		t.Fatal(err)
	}
	want := "sqlite store: applied 1 migrations, schema version 1\nsqlite store: applied 0 migrations, schema version 1\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if err := storecli.Migrate(ctx, []string{"-bogus"}, &out, e); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	e := env(map[string]string{"SWIPEFLIX_DATA_DIR": t.TempDir()})
	var out bytes.Buffer
	if err := storecli.Catalog(ctx, []string{"load", "-data", "testdata/mini"}, &out, e); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "loaded 3 movies into the sqlite store in ") {
		t.Errorf("load printed %q", out.String())
	}
	out.Reset()
	if err := storecli.Catalog(ctx, []string{"get", "3"}, &out, e); err != nil {
		t.Fatal(err)
	}
	var m dataset.Movie
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("get printed %q: %v", out.String(), err)
	}
	if m.Title != "Heat, The (1995)" || m.Year != 1995 || len(m.Tags) != 1 || m.Tags[0] != "heist" {
		t.Errorf("movie 3 = %+v", m)
	}
	for _, args := range [][]string{nil, {"load"}, {"get"}, {"drop"}} {
		if err := storecli.Catalog(ctx, args, &out, e); err == nil {
			t.Errorf("catalog %q succeeded", args)
		}
	}
	if err := storecli.Catalog(ctx, []string{"get", "404"}, &out, e); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown movie: %v, want ErrNotFound", err)
	}
}

func TestModels(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "swipeflix.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for v := int64(1); v <= 3; v++ {
		if err := s.Register(ctx, storetest.Record(v)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(admin.NewHandler(admin.Config{Store: s, Token: "tok"}))
	defer srv.Close()
	e := env(map[string]string{"SWIPEFLIX_TRAINER_URL": srv.URL, "SWIPEFLIX_ADMIN_TOKEN": "tok", "USER": "carol"})
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := storecli.Models(ctx, args, &out, e); err != nil {
			t.Fatalf("models %q: %v", args, err)
		}
		return out.String()
	}
	run("promote", "1")
	if got := run("promote", "2", "-reason", "better"); !strings.HasPrefix(got, "model 2 is production\n") {
		t.Errorf("promote printed %q", got)
	}
	list := run("list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "3 ") || !strings.Contains(lines[2], "production") ||
		!strings.Contains(lines[2], "carol") || !strings.Contains(lines[2], "better") {
		t.Errorf("list printed:\n%s", list)
	}
	if got := run("rollback", "-by", "dave"); !strings.HasPrefix(got, "rolled back: model 1 is production\n") {
		t.Errorf("rollback printed %q", got)
	}
	var cur store.ModelRecord
	if err := json.Unmarshal([]byte(run("current", "-json")), &cur); err != nil || cur.Version != 1 || cur.PromotedBy != "dave" {
		t.Errorf("current -json = %+v, %v", cur, err)
	}
	var recs []store.ModelRecord
	if err := json.Unmarshal([]byte(run("list", "-stage", "archived", "-json")), &recs); err != nil || len(recs) != 1 || recs[0].Version != 2 {
		t.Errorf("list archived = %+v, %v", recs, err)
	}
	if hist := run("history", "2"); strings.Count(hist, "\n") != 4 || !strings.Contains(hist, "dave") {
		t.Errorf("history of 2:\n%s", hist)
	}
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"get"}, {"get", "x"}, {"promote", "-1"}, {"promote", "0"}, {"list", "extra"}, {"frobnicate"}} {
		if err := storecli.Models(ctx, args, &out, e); err == nil {
			t.Errorf("models %q succeeded", args)
		}
	}
	noTok := env(map[string]string{"SWIPEFLIX_TRAINER_URL": srv.URL})
	if err := storecli.Models(ctx, []string{"promote", "3"}, &out, noTok); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("promote without token: %v, want HTTP 401", err)
	}
}
