package driftsvc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// startNATS starts an in-process NATS server (JetStream on a temporary
// file store) on a random port.
func startNATS(t testing.TB) string {
	t.Helper()
	return embeddedtest.StartTestNATS(t).URL()
}

// produce writes evs to the ratings topic, keyed by user, and returns the
// coverage a model trained on everything produced so far would announce:
// per partition, the offset after the last record written. cov may be nil.
func produce(t testing.TB, ctx context.Context, cl *kgo.Client, evs []events.Event, cov drift.Coverage) drift.Coverage {
	t.Helper()
	recs := make([]*kgo.Record, 0, len(evs))
	for _, e := range evs {
		b, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(e.UserID), Value: b})
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if cov == nil {
		cov = drift.Coverage{}
	}
	for _, r := range res {
		cov[r.Record.Partition] = max(cov[r.Record.Partition], r.Record.Offset+1)
	}
	return cov
}

// announce publishes a model snapshot covering cov as the serving model,
// as the trainer does after a refit (the snapshot bytes do not matter to
// drift: it reads the manifest's offsets).
func announce(t testing.TB, ctx context.Context, bus *modelbus.Bus, version int64, cov drift.Coverage) {
	t.Helper()
	m := modelbus.Manifest{Version: version, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Offsets: map[int32]int64(cov)}
	if _, err := bus.Publish(ctx, m, []byte(fmt.Sprintf("snapshot %d", version))); err != nil {
		t.Fatalf("announce model %d: %v", version, err)
	}
}

// brokerTest skips t in -short mode (it starts brokers) and otherwise
// returns a context that bounds it: the deadline only stops a hung test.
func brokerTest(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts brokers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// newBus opens the model bus on its own connection to url.
func newBus(t testing.TB, ctx context.Context, url string) *modelbus.Bus {
	t.Helper()
	bus, err := modelbus.New(ctx, embeddedtest.Connect(t, url), nil)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

// lookupCatalog is a fixed Catalog over a genre lookup (the synthetic
// stream's genres).
type lookupCatalog struct{ drift.GenreLookup }

func (lookupCatalog) Refresh(context.Context) (int, error) { return 1, nil }

// waitFor polls cond until it holds or ctx ends; the deadline only bounds a
// hung test, it asserts nothing about speed.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
