package modelbus_test

import (
	"context"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// A renewal can land on the server while its answer is lost to its caller
// (the context ended, the connection dropped): the lease is still this
// holder's, under a revision it did not see. Keep and Release must go on
// working (in the flaky run of TestLeaseIsExclusiveAndSticky, Release
// failed with "wrong last sequence" after Keep was cancelled mid-update).
func TestLeaseSurvivesARenewalItDidNotSee(t *testing.T) {
	ctx, b, url := setup(t)
	const ttl = 3 * time.Second
	l, err := b.AcquireLease(ctx, "trainer", "host-a", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := embeddedtest.JetStream(t, url).KeyValue(ctx, modelbus.LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	renewUnseen := func() {
		t.Helper()
		e, err := kv.Get(ctx, "trainer")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Update(ctx, "trainer", []byte("host-a"), e.Revision()); err != nil {
			t.Fatal(err)
		}
	}
	renewUnseen()
	keepCtx, stop := context.WithTimeout(ctx, ttl/3+ttl/2) // one renewal at ttl/3
	if err := l.Keep(keepCtx); err != nil {
		t.Fatalf("Keep after a renewal it did not see: %v", err)
	}
	stop()
	renewUnseen()
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release after a renewal it did not see: %v", err)
	}
	if _, err := kv.Get(ctx, "trainer"); err == nil {
		t.Error("the lease is still held after Release")
	}
	// A lease another holder took is not released by the old one.
	if _, err := b.AcquireLease(ctx, "trainer", "host-b", ttl, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Logf("Release of a lease another holder took: %v", err)
	}
	if e, err := kv.Get(ctx, "trainer"); err != nil || string(e.Value()) != "host-b" {
		t.Errorf("after the old holder's Release the lease is %v (%v), want host-b's", e, err)
	}
}
