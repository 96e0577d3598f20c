package trainer

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate/ratingstatetest"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// While the trainer catches up on a backlog, a new user's swipe is read
// ahead of it and goes out as a delta before the backlog reaches it; the
// backlog then changes nothing, and the final state is the uninterrupted
// replay's (issue 12: a swipe waited for its partition's backlog, 22 s at
// 1M ratings).
func TestSwipeIsFoldedInAheadOfTheBacklog(t *testing.T) {
	e := newEnv(t)
	evs, _ := synthEvents(100, 200, 6000)
	// One key for every message: the whole backlog is in the swipe's
	// partition, ahead of it.
	const key = "ahead-user"
	encode := func(evs []events.Event) []kafkabus.Message {
		msgs := make([]kafkabus.Message, 0, len(evs))
		for _, ev := range evs {
			b, err := events.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafkabus.Message{Key: []byte(key), Value: b})
		}
		return msgs
	}
	e.publishRaw(t, encode(evs))
	deltas := e.watchDeltas(t)
	cfg := e.config()
	cfg.BehindEvents = 500
	var handled atomic.Int64
	r := e.start(t, cfg, func(s *Service) {
		s.hooks.AfterMessage = func(n int) {
			handled.Store(int64(n))
			if n >= 300 {
				time.Sleep(3 * time.Millisecond) // a slow backlog: about 17 s
			}
		}
	})
	waitFor(t, "a first model", func() bool { _, ok := e.current(t); return ok })
	waitFor(t, "reading ahead", func() bool { return gauge(t, r, "swipeflix_trainer_reading_ahead") == 1 })

	swipe := events.NewSwipe("ahead-1", key, evs[0].MovieID, events.Like, time.Now(), "test")
	e.publishRaw(t, encode([]events.Event{swipe}))
	waitFor(t, "the swipe's delta", func() bool { _, _, ok := deltas.user(key); return ok })
	if n := handled.Load(); n >= int64(len(evs)) {
		t.Fatalf("the backlog had read %d of %d messages when the swipe's delta came: nothing was read ahead", n, len(evs))
	}
	// It went out on its own, not behind the users the backlog changed
	// meanwhile (flushFresh).
	deltas.mu.Lock()
	for _, d := range deltas.deltas {
		if slices.ContainsFunc(d.Users, func(u recommend.UserDelta) bool { return u.ID == key }) {
			if len(d.Users) != 1 {
				t.Errorf("the swipe's delta folds in %d users, want the swipe's user alone", len(d.Users))
			}
			break
		}
	}
	deltas.mu.Unlock()

	all := append(evs, swipe)
	waitFor(t, "the backlog read to the end", func() bool { return handled.Load() == int64(len(all)) })
	waitFor(t, "no more reading ahead", func() bool { return gauge(t, r, "swipeflix_trainer_reading_ahead") == 0 })
	r.stop(t)
	got, offsets := onDisk(t, cfg)
	var covered int64
	for _, o := range offsets {
		covered += o
	}
	if want := ratingstatetest.Replay(t, encode(all)); got.Len() != want.Len() || got.Hash() != want.Hash() || covered != int64(len(all)) {
		t.Fatalf("state %d pairs (hash %s) covering %d messages; the replay: %d pairs (hash %s) of %d",
			got.Len(), got.Hash(), covered, want.Len(), want.Hash(), len(all))
	}
}
