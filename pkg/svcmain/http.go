package svcmain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// HTTPLimits are the timeouts and the connection cap of every SwipeFlix
// HTTP server, whatever its stack, so that slow or idle clients cannot hold
// connections (and file descriptors) for ever.
type HTTPLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers (net/http only;
	// Fiber counts them in ReadTimeout).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
	// MaxConns caps open connections; past it new ones wait to be
	// accepted (net/http) or are refused (Fiber).
	MaxConns int
	// ShutdownTimeout bounds the wait for in-flight requests at stop.
	ShutdownTimeout time.Duration
}

// DefaultHTTPLimits are the limits every service uses unless configured.
func DefaultHTTPLimits() HTTPLimits {
	return HTTPLimits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxConns:          4096,
		ShutdownTimeout:   10 * time.Second,
	}
}

// Fiber returns cfg with the limits applied.
func (l HTTPLimits) Fiber(cfg fiber.Config) fiber.Config {
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = l.ReadTimeout, l.WriteTimeout, l.IdleTimeout
	cfg.Concurrency = l.MaxConns
	return cfg
}

// ServeHTTP serves h on ln under the limits until ctx ends, then lets
// in-flight requests finish (up to ShutdownTimeout). It returns nil after
// a clean stop.
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler, l HTTPLimits) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10}
	if l.MaxConns > 0 {
		ln = LimitListener(ln, l.MaxConns)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("stop http on %s: %w", ln.Addr(), err)
	}
	return nil
}

// ErrDrainTimeout says connections were still open when the shutdown
// timeout ran out (a client keeping an idle keep-alive connection is
// enough): the server stopped anyway, so callers log it rather than fail.
var ErrDrainTimeout = errors.New("connections still open at the shutdown timeout")

// ListenAndServe listens on TCP addr and hands the listener to serve: the
// Run of a service whose Serve tests call on port 0. A listen error is
// "name: listen on addr: ...".
func ListenAndServe(ctx context.Context, name, addr string, serve func(context.Context, net.Listener) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	return serve(ctx, ln)
}

// ServeFiber serves app on ln until ctx ends, then lets in-flight requests
// finish (up to timeout). It returns nil after a clean stop, and an error
// wrapping ErrDrainTimeout when connections outlasted the timeout.
func ServeFiber(ctx context.Context, app *fiber.App, ln net.Listener, timeout time.Duration) error {
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}
	err := app.ShutdownWithTimeout(timeout)
	if errors.Is(err, context.DeadlineExceeded) {
		err = ErrDrainTimeout
	}
	if serr := <-served; serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("stop http on %s: %w", addr, err)
	}
	return nil
}

// LimitListener returns a listener that has at most n connections open at
// once: Accept waits while n are open.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
