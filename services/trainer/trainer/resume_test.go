package trainer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
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

// replay is the uninterrupted replay: every valid message applied in order.
func replay(msgs []kafkabus.Message) *State {
	s := NewState()
	w := events.DefaultWeights()
	for _, m := range msgs {
		e, err := events.Decode(m.Value)
		if err != nil {
			continue
		}
		if v, ok := w.Signal(&e); ok {
			s.Update(Entry{User: e.UserID, Movie: e.MovieID, Value: float32(v), TS: e.TS.UnixNano(), EventID: e.EventID})
		}
	}
	return s
}

func TestCrashResumeMatchesUninterruptedReplay(t *testing.T) {
	e := newEnv(t)
	msgs := crashStream()
	e.publishRaw(t, msgs)
	want := replay(msgs)

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
		cp, err := LoadCheckpoint(cfg.checkpointPath())
		if err != nil {
			t.Fatalf("after crash %d: %v", i, err)
		}
		t.Logf("crash %d after %d messages (commits: %v): checkpoint covers %v", i, c.at, !c.noCommit, cp.Offsets)
	}

	// The last run goes to the end of the log and stops cleanly.
	cfg.CheckpointInterval = 50 * time.Millisecond
	r := e.start(t, cfg, nil)
	waitFor(t, "checkpoint at the end of the log", func() bool { return checkpointed(cfg) == int64(len(msgs)) })
	r.stop(t)
	cp, err := LoadCheckpoint(cfg.checkpointPath())
	if err != nil {
		t.Fatal(err)
	}
	got := Restore(cp.Entries)
	if got.Len() != want.Len() || got.Hash() != want.Hash() {
		t.Fatalf("resumed state differs from the uninterrupted replay: %d pairs (hash %s), want %d (hash %s)",
			got.Len(), got.Hash(), want.Len(), want.Hash())
	}
	// The checkpoint, not the group's commits, says where to start: with
	// the checkpoint gone, the trainer rebuilds the state from the whole log
	// although the group has committed everything.
	if err := os.Remove(cfg.checkpointPath()); err != nil {
		t.Fatal(err)
	}
	r = e.start(t, cfg, nil)
	waitFor(t, "state rebuilt from the start of the log", func() bool { return checkpointed(cfg) == int64(len(msgs)) })
	r.stop(t)
	cp2, err := LoadCheckpoint(cfg.checkpointPath())
	if err != nil {
		t.Fatal(err)
	}
	if Restore(cp2.Entries).Hash() != want.Hash() {
		t.Fatal("state rebuilt without a checkpoint differs from the uninterrupted replay")
	}

	// Every kept entry points at a distinct message inside the log.
	seen := map[[2]int64]bool{}
	for _, en := range cp.Entries {
		pos := [2]int64{int64(en.Partition), en.Offset}
		if en.Partition < 0 || en.Offset < 0 || en.Offset >= cp.Offsets[en.Partition] || seen[pos] {
			t.Fatalf("entry with a bad Kafka position: %+v", en)
		}
		seen[pos] = true
	}
}

// checkpointed is how many messages the checkpoint on disk covers.
func checkpointed(cfg Config) int64 {
	cp, err := LoadCheckpoint(cfg.checkpointPath())
	if err != nil {
		return -1
	}
	var n int64
	for _, o := range cp.Offsets {
		n += o
	}
	return n
}
