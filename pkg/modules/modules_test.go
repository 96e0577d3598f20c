package modules

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type funcService func(context.Context) error

func (f funcService) Run(ctx context.Context) error { return f(ctx) }

func testGraph(t *testing.T) *Graph {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	return New(cfg, nil, nil)
}

func TestResolveOrdersDependenciesOnce(t *testing.T) {
	g := testGraph(t)
	noop := func(context.Context, *Graph) (Service, error) { return nil, nil }
	g.Register(Module{Name: "a", Deps: []string{Bus, Store}, Init: noop, IsService: true})
	g.Register(Module{Name: "b", Deps: []string{Kafka, Store}, Init: noop, IsService: true})
	got, err := g.Resolve("all")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{NATS, Bus, Store, "a", Kafka, "b"}; !slices.Equal(got, want) {
		t.Errorf("all: %v, want %v", got, want)
	}
	if got, _ := g.Resolve("b", "b"); !slices.Equal(got, []string{Kafka, Store, "b"}) {
		t.Errorf("b twice: %v", got)
	}
	if _, err := g.Resolve("a", "nope"); err == nil || !strings.Contains(err.Error(), `unknown target "nope"`) ||
		!strings.Contains(err.Error(), "kafka") {
		t.Errorf("unknown target: %v", err)
	}
	g.Register(Module{Name: "c", Deps: []string{"d"}, Init: noop})
	g.Register(Module{Name: "d", Deps: []string{"c"}, Init: noop})
	if _, err := g.Resolve("c"); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

// A failing service stops the others, its error is Run's, and what the
// modules opened is closed in reverse order.
func TestRunStopsAllOnFirstFailureAndCloses(t *testing.T) {
	g := testGraph(t)
	var closed []string
	stopped := make(chan struct{})
	g.Register(Module{Name: "waits", IsService: true, Init: func(_ context.Context, g *Graph) (Service, error) {
		g.OnClose(func() { closed = append(closed, "waits") })
		return funcService(func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil }), nil
	}})
	g.Register(Module{Name: "fails", IsService: true, Init: func(_ context.Context, g *Graph) (Service, error) {
		g.OnClose(func() { closed = append(closed, "fails") })
		return funcService(func(context.Context) error { return errors.New("boom") }), nil
	}})
	err := g.Run(context.Background(), All)
	if err == nil || err.Error() != "fails: boom" {
		t.Fatalf("Run = %v, want fails: boom", err)
	}
	<-stopped
	if !slices.Equal(closed, []string{"fails", "waits"}) {
		t.Errorf("closed %v, want the reverse of the start order", closed)
	}
}

// A module that cannot start closes what the ones before it opened.
func TestStartFailureClosesWhatStarted(t *testing.T) {
	g := testGraph(t)
	var closed bool
	g.Register(Module{Name: "first", Init: func(_ context.Context, g *Graph) (Service, error) {
		g.OnClose(func() { closed = true })
		return nil, nil
	}})
	g.Register(Module{Name: "second", Deps: []string{"first"}, Init: func(context.Context, *Graph) (Service, error) {
		return nil, errors.New("no")
	}})
	if _, err := g.Start(context.Background(), "second"); err == nil || !strings.Contains(err.Error(), "start second: no") {
		t.Fatalf("Start = %v", err)
	}
	if !closed {
		t.Error("the first module was not closed")
	}
}

func TestCatalogLoadDirNamesAMissingFolder(t *testing.T) {
	c := NewCatalogCache(nil, nil)
	dir := filepath.Join(t.TempDir(), "no-such-folder")
	if err := c.LoadDir(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "no-such-folder") {
		t.Fatalf("LoadDir = %v, want an error naming the folder", err)
	}
}
