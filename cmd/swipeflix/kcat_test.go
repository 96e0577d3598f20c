package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// kcatPath finds kcat, or skips the test when it is missing, unless CI=true
// (or SWIPEFLIX_REQUIRE_KCAT=1): CI installs the Debian package, so there a
// missing kcat is a failure, not a reason to skip.
func kcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("SWIPEFLIX_REQUIRE_KCAT") == "1" {
			t.Fatalf("kcat not on PATH (CI installs the Debian package kcat): %v", err)
		}
		t.Skip("kcat not on PATH (Debian package kcat)")
	}
	return path
}

// TestKcatToTrainer publishes rating events with kcat (librdkafka, a client
// we did not write) into the embedded broker of the one process, keyed by
// user id, and checks that the trainer consumed every one (its events
// counter), sent the garbage line to the DLQ, and served a model in which a
// kcat user is known: a personal answer without the movies they rated.
func TestKcatToTrainer(t *testing.T) {
	if testing.Short() {
		t.Skip("kcat: embedded brokers, trainer and api")
	}
	kcat := kcatPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// No starter data: the trainer sees only what kcat sends.
	s := startStack(ctx, t, nil, "-target", "trainer,api", "-starter=")

	syn := dataset.Generate(dataset.SizedConfig(3000, 11))
	ratings := syn.Ratings()
	rated := map[string][]string{} // user -> movies
	var in bytes.Buffer
	for i, r := range ratings {
		ev := events.NewRating(fmt.Sprintf("kcat-%d", i), "kcat-"+r.User, r.Movie, r.Value, time.Unix(r.Time, 0).UTC(), "kcat")
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatalf("encode rating %d: %v", i, err)
		}
		// -K: splits each line at its first colon: user ids have none, the
		// JSON value after it may.
		fmt.Fprintf(&in, "%s:%s\n", ev.UserID, b)
		rated[ev.UserID] = append(rated[ev.UserID], ev.MovieID)
	}
	in.WriteString("kcat-junk:this is not an event\n")

	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", s.brokers[0], "-t", kafkabus.Ratings, "-K:",
		"-X", "acks=all", "-X", "topic.partitioner=murmur2_random")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}

	var consumed, invalid float64
	waitUntil(ctx, t, fmt.Sprintf("the trainer to consume %d kcat events and 1 bad line", len(ratings)), func() bool {
		var err error
		if consumed, err = s.metric(ctx, s.trainer, "swipeflix_trainer_events_total", `result="applied"`); err != nil {
			return false
		}
		invalid, err = s.metric(ctx, s.trainer, "swipeflix_trainer_events_total", `result="invalid"`)
		return err == nil && consumed >= float64(len(ratings)) && invalid >= 1
	})
	// Every pair is rated once, so each event is applied, none stale.
	if consumed != float64(len(ratings)) || invalid != 1 {
		t.Errorf("trainer events: applied %v, invalid %v; want %d and 1", consumed, invalid, len(ratings))
	}
	if dlq, err := s.metric(ctx, s.trainer, "swipeflix_dlq_messages_total", `service="trainer"`); err != nil || dlq != 1 {
		t.Errorf("trainer DLQ count = %v (%v), want 1", dlq, err)
	}

	// The most active kcat user gets a personal answer from a served model,
	// without any movie they rated.
	user := ""
	for u, ms := range rated {
		if user == "" || len(ms) > len(rated[user]) || (len(ms) == len(rated[user]) && u < user) {
			user = u
		}
	}
	// The trainer has applied every event; the deltas that carry the
	// user's last ratings to the api follow within a flush, so the answer
	// may name a rated movie for a moment (a served model that covers only
	// part of them). It must stop doing so before the test's deadline.
	var a proofAnswer
	waitUntil(ctx, t, "a personal answer for "+user+" without a movie they rated", func() bool {
		var err error
		a, err = s.predict(ctx, user)
		return err == nil && !a.ColdStart && len(a.Recommendations) > 0 &&
			!slices.ContainsFunc(a.movies(), func(m string) bool { return slices.Contains(rated[user], m) })
	})
	if a.ModelVersion == "" {
		t.Errorf("answer without a model version: %+v", a)
	}
	for _, m := range a.movies() {
		if slices.Contains(rated[user], m) {
			t.Errorf("%s was recommended movie %s, which they rated through kcat", user, m)
		}
	}
	t.Logf("kcat: %d events from %d users applied; %s got model %s, top %v", len(ratings), len(rated), user, a.ModelVersion, a.movies())
	if t.Failed() {
		t.Logf("process log:\n%s", lastLines(s.stderr.String(), 40))
	}
}

// tail is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
