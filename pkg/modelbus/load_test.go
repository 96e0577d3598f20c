package modelbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/modelbus/modelbustest"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// A manifest whose version differs from its snapshot's own is refused by
// Load, the check both the api and the trainer use (issue 10, defect 3).
func TestLoadRefusesAVersionMismatch(t *testing.T) {
	ctx, b, _ := setup(t)
	good, err := b.Publish(ctx, manifest(1), modelbustest.Snapshot(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := b.Load(ctx, good); err != nil || m.Version != 1 {
		t.Fatalf("good model: %v", err)
	}
	bad, err := b.Publish(ctx, manifest(2), modelbustest.Snapshot(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Load(ctx, bad)
	if !errors.Is(err, modelbus.ErrVersionMismatch) || !modelbus.Permanent(err) {
		t.Fatalf("mismatched model: %v, want a permanent ErrVersionMismatch", err)
	}
	garbage, err := b.Publish(ctx, manifest(3), []byte("not a snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, garbage); !errors.Is(err, recommend.ErrCorrupt) || !modelbus.Permanent(err) {
		t.Fatalf("garbage: %v, want a permanent ErrCorrupt", err)
	}
	// Fallback: the newest model of the history that loads is version 1.
	m, man, refused, err := b.LoadNewest(ctx, nil)
	if err != nil || m.Version != 1 || man.Version != 1 || len(refused) != 2 {
		t.Fatalf("LoadNewest = version %d (%v refused), %v; want 1 after refusing 3 and 2", man.Version, refused, err)
	}
	if refused[0].Manifest.Version != 3 || refused[1].Manifest.Version != 2 {
		t.Errorf("refused in order %d, %d; want newest first", refused[0].Manifest.Version, refused[1].Manifest.Version)
	}
	if _, _, _, err := b.LoadNewest(ctx, func(v int64) bool { return v == 1 }); !errors.Is(err, modelbus.ErrNoModel) {
		t.Errorf("nothing good left: %v, want ErrNoModel", err)
	}
}

func TestLeaseIsExclusiveAndSticky(t *testing.T) {
	ctx, b, _ := setup(t)
	const ttl = 2 * time.Second
	a, err := b.AcquireLease(ctx, "trainer", "host-a", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The same holder (a restart) takes it back at once.
	again, err := b.AcquireLease(ctx, "trainer", "host-a", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another waits while it is kept.
	keepCtx, stopKeeping := context.WithCancel(ctx)
	kept := make(chan error, 1)
	go func() { kept <- again.Keep(keepCtx) }()
	waitCtx, cancel := context.WithTimeout(ctx, ttl)
	var waitedFor string
	if _, err := b.AcquireLease(waitCtx, "trainer", "host-b", ttl, func(cur string) { waitedFor = cur }); err == nil {
		t.Fatal("a second holder took a lease that is being renewed")
	}
	cancel()
	if waitedFor != "host-a" {
		t.Errorf("the waiter was told the holder is %q", waitedFor)
	}
	stopKeeping()
	if err := <-kept; err != nil {
		t.Fatalf("Keep after cancel: %v", err)
	}
	// Released, it goes to the standby at once.
	if err := again.Release(ctx); err != nil {
		t.Fatal(err)
	}
	bl, err := b.AcquireLease(ctx, "trainer", "host-b", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first holder's old lease notices it lost.
	if err := a.Keep(ctx); !errors.Is(err, modelbus.ErrLeaseLost) {
		t.Fatalf("Keep of a taken lease: %v, want ErrLeaseLost", err)
	}
	_ = bl
}

func TestPruneKeepsServingRollbackAndExtra(t *testing.T) {
	ctx, b, _ := setup(t)
	// Versions 1..5 served in turn; 6..9 stored only (refused candidates).
	for v := int64(1); v <= 9; v++ {
		if v <= 5 {
			if _, err := b.Publish(ctx, manifest(v), []byte(fmt.Sprint("snapshot ", v))); err != nil {
				t.Fatal(err)
			}
		} else if _, err := b.Store(ctx, manifest(v), []byte(fmt.Sprint("snapshot ", v))); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := b.Prune(ctx, modelbus.Retention{Rollback: 2, Extra: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	want := []string{"model-1", "model-2", "model-6", "model-7", "model-8"}
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v (keep 5 serving, 4 and 3 for rollback, 9 the newest other)", deleted, want)
	}
	for _, v := range []int64{3, 4, 5, 9} {
		if _, err := b.Fetch(ctx, mustStored(t, v)); err != nil {
			t.Errorf("kept snapshot %d: %v", v, err)
		}
	}
	// Age: everything but the serving one goes once old enough.
	deleted, err = b.Prune(ctx, modelbus.Retention{Rollback: 2, Extra: 1, MaxAge: time.Minute}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if want := []string{"model-3", "model-4", "model-9"}; !slices.Equal(deleted, want) {
		t.Errorf("by age deleted %v, want %v", deleted, want)
	}
}

// mustStored is manifest(v) with the sha256 and size of the test's stored
// bytes.
func mustStored(t *testing.T, v int64) modelbus.Manifest {
	t.Helper()
	m, err := modelbus.Describe(manifest(v), []byte(fmt.Sprint("snapshot ", v)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
