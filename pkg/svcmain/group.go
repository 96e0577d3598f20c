package svcmain

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrDone is returned by a one-shot task that finished its job (a starter
// load, say): unlike nil, it does not count as stopping unexpectedly, and
// the other tasks go on.
var ErrDone = errors.New("done")

// Group runs named long-running tasks, each in its own goroutine, until
// its context ends or one of them stops: the first task to fail, or to
// return before the context ended, cancels the others. It is the one
// supervisor of every SwipeFlix process: the module graph's targets and
// each service's own loops.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// NewGroup returns a group whose tasks run under a context derived from
// ctx, and that context.
func NewGroup(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	g := &Group{ctx: ctx, cancel: cancel}
	return g, ctx
}

// Go starts fn under the group's context. fn returns nil once that context
// ended, ErrDone when it finished a one-shot job, or an error.
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := fn(g.ctx)
		switch {
		case errors.Is(err, ErrDone):
			return
		case err != nil:
			err = fmt.Errorf("%s: %w", name, err)
		case g.ctx.Err() == nil:
			err = fmt.Errorf("%s stopped unexpectedly", name)
		}
		g.mu.Lock()
		if g.err == nil && err != nil && g.ctx.Err() == nil {
			g.err = err
		}
		g.mu.Unlock()
		g.cancel()
	}()
}

// Stop cancels every task without an error.
func (g *Group) Stop() { g.cancel() }

// Wait waits for every task and returns the first failure (nil when the
// tasks stopped because the context ended).
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
