package trainer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
)

// TestKcatProducer publishes with kcat (librdkafka, a third-party client)
// and checks the trainer consumes every event. CI sets
// SWIPEFLIX_REQUIRE_KCAT=1 so a missing kcat fails instead of skipping.
func TestKcatProducer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("SWIPEFLIX_REQUIRE_KCAT") == "1" {
			t.Fatal("kcat not found and SWIPEFLIX_REQUIRE_KCAT=1")
		}
		t.Skip("kcat not installed (Debian package kcat)")
	}
	e := newEnv(t)
	evs, _ := synthEvents(30, 40, 300)
	var in bytes.Buffer
	for _, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		in.WriteString(ev.UserID + "\t")
		in.Write(b)
		in.WriteByte('\n')
	}
	in.WriteString("garbage\tnot an event\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", e.kafka.Addr(), "-t", kafkabus.Ratings, "-K", "\t",
		"-X", "acks=all")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	want := ratingstate.New()
	for _, ev := range evs {
		if _, err := want.Update(ratingstate.Event{User: ev.UserID, Movie: ev.MovieID, Value: float32(*ev.Rating),
			TS: ev.TS.UnixNano(), EventID: ev.EventID, Partition: -1, Offset: -1}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.start(t, e.config(), nil)
	waitFor(t, "every kcat event in the state", func() bool { return r.svc.pairs.Load() == int64(want.Len()) })
	waitFor(t, "the garbage line counted", func() bool {
		return counter(t, r.reg, "swipeflix_trainer_events_total", "invalid") == 1
	})
	waitFor(t, "model v1", func() bool { _, ok := e.current(t); return ok })
	r.stop(t)
	if got, _ := onDisk(t, e.config()); got.Hash() != want.Hash() {
		t.Errorf("state from kcat's messages (%d pairs) differs from the events sent (%d pairs)", got.Len(), want.Len())
	}
}
