package impressions_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/impressions"
)

// store is what both implementations offer.
type store interface {
	Update(ctx context.Context, user string, deal impressions.DealFunc) error
}

var (
	_ store = (*impressions.KV)(nil)
	_ store = (*impressions.Memory)(nil)
)

func openKV(t *testing.T, url string, max int) *impressions.KV {
	t.Helper()
	kv, err := impressions.OpenKV(context.Background(), embeddedtest.Connect(t, url), impressions.KVConfig{MaxPerUser: max, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// dealNext deals the n smallest numbers not dealt yet, as strings.
func dealNext(n int) impressions.DealFunc {
	return func(dealt []string) ([]string, error) {
		var add []string
		for i := 0; len(add) < n; i++ {
			if id := strconv.Itoa(i); !slices.Contains(dealt, id) {
				add = append(add, id)
			}
		}
		return add, nil
	}
}

func dealt(t *testing.T, s store, user string) []string {
	t.Helper()
	var out []string
	if err := s.Update(context.Background(), user, func(d []string) ([]string, error) {
		out = slices.Clone(d)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Both stores: appends in order, bounded per user (oldest out first), users
// apart, nothing stored when the deal adds nothing or fails.
func TestStores(t *testing.T) {
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	for name, s := range map[string]store{"kv": openKV(t, n.URL(), 5), "memory": impressions.NewMemory(5, 100)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if err := s.Update(ctx, "ann/1 é", dealNext(3)); err != nil {
				t.Fatal(err)
			}
			if got := dealt(t, s, "ann/1 é"); !slices.Equal(got, []string{"0", "1", "2"}) {
				t.Fatalf("after one deal: %v", got)
			}
			if err := s.Update(ctx, "ann/1 é", dealNext(3)); err != nil {
				t.Fatal(err)
			}
			if got := dealt(t, s, "ann/1 é"); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
				t.Fatalf("bounded to 5, oldest out: %v", got)
			}
			if got := dealt(t, s, "bob"); len(got) != 0 {
				t.Fatalf("another user sees %v", got)
			}
			boom := fmt.Errorf("boom")
			if err := s.Update(ctx, "bob", func([]string) ([]string, error) { return []string{"x"}, boom }); err != boom {
				t.Fatalf("deal error: %v", err)
			}
			if got := dealt(t, s, "bob"); len(got) != 0 {
				t.Fatalf("a failed deal stored %v", got)
			}
		})
	}
}

// Two replicas (two connections) dealing to one user at once never deal
// the same movie twice: compare-and-set makes the loser deal again.
func TestKVConcurrentReplicas(t *testing.T) {
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	a, b := openKV(t, n.URL(), 1000), openKV(t, n.URL(), 1000)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for _, s := range []*impressions.KV{a, b} {
		wg.Go(func() {
			for range 20 {
				if err := s.Update(context.Background(), "shared", dealNext(2)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := dealt(t, a, "shared")
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if len(got) != 80 || len(slices.Compact(sorted)) != 80 {
		t.Fatalf("dealt %d (%d distinct), want 80 distinct", len(got), len(slices.Compact(sorted)))
	}
}

// Impressions survive a restart of the api (a new connection) and of the
// NATS server on the same store.
func TestKVSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	url := n.URL()
	first := openKV(t, url, 100)
	if err := first.Update(context.Background(), "carol", dealNext(4)); err != nil {
		t.Fatal(err)
	}
	if got := dealt(t, openKV(t, url, 100), "carol"); len(got) != 4 {
		t.Fatalf("a second connection sees %v", got)
	}
	n.Close()
	n2, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n2.Close)
	if got := dealt(t, openKV(t, n2.URL(), 100), "carol"); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("after a server restart: %v", got)
	}
}

func TestKey(t *testing.T) {
	for _, u := range []string{"1", "ann/1 é", "a.b*c>d", ""} {
		k := impressions.Key(u)
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				t.Errorf("key %q of %q has %q", k, u, r)
			}
		}
	}
}

// Memory forgets an arbitrary user once it holds MaxUsers.
func TestMemoryBoundsUsers(t *testing.T) {
	m := impressions.NewMemory(10, 2)
	for _, u := range []string{"a", "b", "c"} {
		if err := m.Update(context.Background(), u, dealNext(1)); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, u := range []string{"a", "b", "c"} {
		if len(dealt(t, m, u)) > 0 {
			held++
		}
	}
	if held != 2 {
		t.Fatalf("holds %d users, want 2", held)
	}
}

// Dealt reads a list without changing it; an unreadable value starts afresh.
func TestKVDealtAndUnreadable(t *testing.T) {
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	kv := openKV(t, n.URL(), 10)
	ctx := context.Background()
	if err := kv.Update(ctx, "dora", dealNext(2)); err != nil {
		t.Fatal(err)
	}
	got, err := kv.Dealt(ctx, "dora")
	if err != nil || !slices.Equal(got, []string{"0", "1"}) {
		t.Fatalf("Dealt: %v, %v", got, err)
	}
	raw, err := embeddedtest.JetStream(t, n.URL()).KeyValue(ctx, impressions.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Put(ctx, impressions.Key("dora"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Update(ctx, "dora", dealNext(1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := kv.Dealt(ctx, "dora"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("after an unreadable value: %v", got)
	}
}
