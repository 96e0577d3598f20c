// Package svcmaintest runs servers for tests: on a free loopback port,
// stopped by t.Cleanup.
package svcmaintest

import (
	"context"
	"net"
	"testing"
)

// Serve runs serve on a free loopback port until the test ends and returns
// the address. At the end it cancels serve's context and fails the test if
// serve returns an error.
func Serve(t testing.TB, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server on %s stopped with: %v", addr, err)
		}
	})
	return addr
}
