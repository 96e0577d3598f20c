package modelbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// Store keeps a snapshot fetchable without touching the current model.
func TestStoreDoesNotChangeCurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus, err := modelbus.Connect(ctx, embeddedtest.StartTestNATS(t).URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.Publish(ctx, modelbus.Manifest{Version: 1, CreatedAt: time.Now()}, []byte("one")); err != nil {
		t.Fatal(err)
	}
	m, err := bus.Store(ctx, modelbus.Manifest{Version: 2, CreatedAt: time.Now()}, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Object == "" || m.Size != 3 || m.SHA256 == "" {
		t.Fatalf("stored manifest not filled in: %+v", m)
	}
	cur, err := bus.Current(ctx)
	if err != nil || cur.Version != 1 {
		t.Fatalf("current = %+v, %v; want version 1", cur, err)
	}
	data, err := bus.Fetch(ctx, m)
	if err != nil || string(data) != "two" {
		t.Fatalf("fetch stored: %q, %v", data, err)
	}
	if _, err := bus.Store(ctx, modelbus.Manifest{}, []byte("x")); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("an invalid manifest was stored: %v", err)
	}
}
