package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/modelbus/modelbustest"
	"github.com/swipeflix/swipeflix/pkg/modules/modulestest"
	"github.com/swipeflix/swipeflix/services/api/api"
)

var discard = slog.New(slog.DiscardHandler)

func TestRealMainRejectsBadSettings(t *testing.T) {
	modulestest.Isolate(t)
	if err := api.Standalone(context.Background(), []string{"-api.body-limit", "1"}, discard); err == nil || !strings.Contains(err.Error(), "body limit") {
		t.Errorf("bad flag value: %v, want an error naming the body limit", err)
	}
	if err := api.Standalone(context.Background(), []string{"-no-such-flag"}, discard); err == nil {
		t.Error("unknown flag accepted")
	}
	t.Setenv("API_CACHE_ENTRIES", "lots")
	if err := api.Standalone(context.Background(), nil, discard); err == nil || !strings.Contains(err.Error(), "API_CACHE_ENTRIES") {
		t.Errorf("bad environment value: %v, want an error naming API_CACHE_ENTRIES", err)
	}
}

// TestRealMainServes runs the command against an embedded NATS server with
// one published model, waits until it is ready and stops it as SIGTERM
// would (by ending its context).
func TestRealMainServes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded NATS server")
	}
	n := embeddedtest.StartTestNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bus, err := modelbus.Connect(ctx, n.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.Publish(ctx, modelbus.Manifest{Version: 1, CreatedAt: time.Now()}, modelbustest.Snapshot(t, 1)); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // api.Standalone listens itself; another process could take the port meanwhile (unlikely)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- api.Standalone(runCtx, []string{"-api.addr", addr, "-nats.url", n.URL(), "-data-dir", t.TempDir()}, discard)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("api not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("api.Standalone after shutdown: %v", err)
	}
}
