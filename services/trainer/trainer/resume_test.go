package trainer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/ratingstate/ratingstatetest"
)

// crashStream is a replay with the awkward parts of a real log: the same
// (user, movie) rated again later and earlier in event time, exact
// duplicates, swipes, and garbage.
func crashStream() []kafkabus.Message {
	base, _ := synthEvents(30, 50, 500)
	rng := rand.New(rand.NewPCG(5, 6))
	var evs []events.Event
	for i, ev := range base {
		evs = append(evs, ev)
		switch i % 10 {
		case 3: // a later re-rating
			evs = append(evs, events.NewRating(fmt.Sprintf("re-%d", i), ev.UserID, ev.MovieID, 0.5+float64(rng.IntN(10))/2,
				ev.TS.Add(time.Hour), "test"))
		case 5: // an older event arriving late: stale
			evs = append(evs, events.NewRating(fmt.Sprintf("old-%d", i), ev.UserID, ev.MovieID, 1, ev.TS.Add(-time.Hour), "test"))
		case 7: // a duplicate
			evs = append(evs, ev)
		case 8:
			evs = append(evs, events.NewSwipe(fmt.Sprintf("sw-%d", i), ev.UserID, fmt.Sprint(100+i%20), events.Dislike, ev.TS, "test"))
		}
	}
	var msgs []kafkabus.Message
	for i, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			panic(err)
		}
		msgs = append(msgs, kafkabus.Message{Key: []byte(ev.UserID), Value: b})
		if i%97 == 0 {
			msgs = append(msgs, kafkabus.Message{Key: []byte(ev.UserID), Value: []byte(`{"event_id":"x"`)})
		}
	}
	return msgs
}

// onDisk opens the checkpoint of a stopped trainer and returns its state
// and the offsets it covers.
func onDisk(t *testing.T, cfg Config) (*ratingstate.State, map[int32]int64) {
	t.Helper()
	st, ld, err := ratingstate.Open(cfg.stateDir(), ratingstate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return ld.State, ld.Offsets
}

func TestCrashResumeMatchesUninterruptedReplay(t *testing.T) {
	e := newEnv(t)
	msgs := crashStream()
	e.publishRaw(t, msgs)
	want := ratingstatetest.Replay(t, msgs)

	cfg := e.config()
	cfg.MinEvents = 1 << 30 // no model: this test is about the state
	cfg.CheckpointEvery = 41
	cfg.CheckpointInterval = time.Hour

	// Kill the trainer at several points, as kill -9 would: no final
	// checkpoint, whatever was handled since the last one is lost. One run
	// never commits to Kafka: the next must still start at the checkpoint.
	for i, c := range []struct {
		at       int
		noCommit bool
	}{{at: 60}, {at: 177, noCommit: true}, {at: 95}, {at: 250}} {
		ctx, cancel := context.WithCancel(context.Background())
		hooks := &Hooks{CrashOnStop: true, NoCommit: c.noCommit, AfterMessage: func(n int) {
			if n == c.at {
				cancel()
			}
		}}
		svc, err := New(cfg, e.deps(t, nil, hooks))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		case <-time.After(60 * time.Second):
			cancel()
			t.Fatalf("run %d did not reach message %d", i, c.at)
		}
		cancel()
		_, covered := onDisk(t, cfg)
		t.Logf("crash %d after %d messages (commits: %v): checkpoint covers %v", i, c.at, !c.noCommit, covered)
	}

	// The last run goes to the end of the log and stops cleanly.
	cfg.CheckpointInterval = 50 * time.Millisecond
	r := e.start(t, cfg, nil)
	waitFor(t, "checkpoint at the end of the log", func() bool { return checkpointed(r) == int64(len(msgs)) })
	r.stop(t)
	got, covered := onDisk(t, cfg)
	if got.Len() != want.Len() || got.Hash() != want.Hash() {
		t.Fatalf("resumed state differs from the uninterrupted replay: %d pairs (hash %s), want %d (hash %s)",
			got.Len(), got.Hash(), want.Len(), want.Hash())
	}
	// The checkpoint, not the group's commits, says where to start: with
	// the checkpoint gone, the trainer rebuilds the state from the whole log
	// although the group has committed everything.
	if err := os.RemoveAll(cfg.stateDir()); err != nil {
		t.Fatal(err)
	}
	r = e.start(t, cfg, nil)
	waitFor(t, "state rebuilt from the start of the log", func() bool { return checkpointed(r) == int64(len(msgs)) })
	r.stop(t)
	if rebuilt, _ := onDisk(t, cfg); rebuilt.Hash() != want.Hash() {
		t.Fatal("state rebuilt without a checkpoint differs from the uninterrupted replay")
	}

	// Every user's Kafka position points inside the log the checkpoint
	// covers.
	for user, pos := range got.Users() {
		if pos.Partition < 0 || pos.Offset < 0 || pos.Offset >= covered[pos.Partition] {
			t.Fatalf("user %s with a bad Kafka position: %+v (covered %v)", user, pos, covered)
		}
	}
}

// checkpointed is how many messages the running trainer's checkpoint on
// disk covers.
func checkpointed(r *running) int64 {
	var n int64
	for _, o := range r.svc.loop.cp.Covered() {
		n += o
	}
	return n
}

// A client that retries after a 503 may leave its event in Kafka twice or
// more (the broker can still append what ingest gave up on). The event id
// and the latest-by-time rule make the copies harmless: the state is the
// one the events give once each, and every copy counts as stale, none as
// applied.
func TestRetriedEventsCountOnce(t *testing.T) {
	e := newEnv(t)
	base, _ := synthEvents(30, 50, 400)
	rng := rand.New(rand.NewPCG(8, 9))
	var once, retried []kafkabus.Message
	copies := 0
	for _, ev := range base {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		m := kafkabus.Message{Key: []byte(ev.UserID), Value: b}
		once = append(once, m)
		retried = append(retried, m)
		// Up to two more copies, landing a few events later, as a retry does.
		for range rng.IntN(3) {
			at := max(len(retried)-rng.IntN(5), 0)
			retried = slices.Insert(retried, at, m)
			copies++
		}
	}
	if copies == 0 {
		t.Fatal("the stream has no copies")
	}
	e.publishRaw(t, retried)
	want := ratingstatetest.Replay(t, once)

	cfg := e.config()
	cfg.MinEvents = 1 << 30 // no model: this test is about the state
	r := e.start(t, cfg, nil)
	waitFor(t, "checkpoint at the end of the log", func() bool { return checkpointed(r) == int64(len(retried)) })
	applied, stale := r.svc.metrics.applied, r.svc.metrics.stale
	r.stop(t)
	got, _ := onDisk(t, cfg)
	if got.Len() != want.Len() || got.Hash() != want.Hash() {
		t.Fatalf("state after %d retried copies: %d pairs (hash %s), want %d (hash %s) as without them",
			copies, got.Len(), got.Hash(), want.Len(), want.Hash())
	}
	if a, s := testutil.ToFloat64(applied), testutil.ToFloat64(stale); s < float64(copies) || a+s != float64(len(retried)) {
		t.Errorf("events applied %v, stale %v; want every one of the %d copies stale and %d in all", a, s, copies, len(retried))
	}
}

// A trainer killed after its checkpoint but before its commit leaves the
// group's committed offsets behind the checkpoint. The next run reads on
// from the checkpoint; on a partition with nothing new it has nothing to
// commit, so lag tools (and the consumer-lag alert) would see a backlog
// that is not there for good. The restart commits the checkpoint's offsets.
func TestRestartCommitsTheCheckpointsOffsets(t *testing.T) {
	e := newEnv(t)
	msgs := crashStream()
	e.publishRaw(t, msgs)
	cfg := e.config()
	cfg.MinEvents = 1 << 30 // no model: this test is about offsets
	cfg.CheckpointInterval = 50 * time.Millisecond
	r := e.start(t, cfg, func(s *Service) { s.hooks.NoCommit = true })
	waitFor(t, "checkpoint at the end of the log", func() bool { return checkpointed(r) == int64(len(msgs)) })
	r.stop(t)
	lag := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := kafkabus.TotalLag(ctx, e.kafka.Brokers(), cfg.Group, kafkabus.Ratings)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := lag(); n != int64(len(msgs)) {
		t.Fatalf("lag after a run that never committed: %d, want %d", n, len(msgs))
	}
	r = e.start(t, cfg, nil)
	waitFor(t, "the group's lag at zero after the restart", func() bool { return lag() == 0 })
	r.stop(t)
}
