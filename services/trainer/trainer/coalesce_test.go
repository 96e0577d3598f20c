package trainer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// deltaSink takes the deltas a loop publishes and nothing else: the loop's
// flushes without a broker.
type deltaSink struct {
	ModelBus
	n int
}

func (d *deltaSink) PublishDelta(context.Context, int64, []byte) error {
	d.n++
	return nil
}

// noCatalog knows no movie.
type noCatalog struct{}

func (noCatalog) Movies(context.Context) []dataset.Movie              { return nil }
func (noCatalog) Movie(context.Context, string) (dataset.Movie, bool) { return dataset.Movie{}, false }

// coalesceLoop is a fold loop without brokers holding the first ratings
// and a model fitted on them.
func coalesceLoop(t *testing.T, first []dataset.Rating, model *recommend.Model) (*foldLoop, *deltaSink) {
	t.Helper()
	sink := &deltaSink{}
	s, err := build(DefaultConfig(), Deps{Bus: sink, Catalog: noCatalog{}})
	if err != nil {
		t.Fatal(err)
	}
	l := s.loop
	for i, r := range first {
		if _, err := l.state.Update(ratingstate.Event{User: r.User, Movie: r.Movie, Value: float32(r.Value), TS: r.Time * 1e9,
			EventID: fmt.Sprint("first-", i), Partition: -1, Offset: -1}); err != nil {
			t.Fatal(err)
		}
	}
	l.working = model.Clone()
	l.working.Version = model.Version
	l.deltas.reset(model.Version, time.Now())
	return l, sink
}

// The coalesced catch-up path (a user folded in once per flush, however
// many of their events the flush covers, flushes far apart) ends in the
// same rating state and the same model as folding in after every event
// (issue 12): a fold-in is an exact least-squares step from the user's full
// current ratings, so it does not depend on how the changes were grouped.
func TestCoalescedFoldInMatchesPerEvent(t *testing.T) {
	syn := dataset.Generate(dataset.SizedConfig(6000, 3))
	rs := syn.Ratings()
	first, rest := rs[:4000], rs[4000:]
	// Movies the model knows: a new movie is folded in once, from its
	// raters when a flush first meets it, so its factors depend on when
	// that is; this test is about users.
	known := map[string]bool{}
	for _, r := range first {
		known[r.Movie] = true
	}
	var msgs []kafkabus.Message
	for i, r := range rest {
		if !known[r.Movie] {
			continue
		}
		ev := events.NewRating(fmt.Sprint("rest-", i), r.User, r.Movie, r.Value, time.Unix(r.Time, 0).UTC(), "test")
		// Some users rate a movie again later: a re-rating the flush sees
		// only as the user's latest ratings.
		if i%7 == 0 {
			ev = events.NewRating(fmt.Sprint("again-", i), r.User, r.Movie, 5.5-r.Value, time.Unix(r.Time+1, 0).UTC(), "test")
		}
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafkabus.Message{Partition: 0, Offset: int64(len(msgs)), Value: b, Time: time.Now()})
	}

	cfg := recommend.DefaultConfig()
	cfg.Workers = 1
	var train []recommend.Interaction
	for _, r := range first {
		train = append(train, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
	}
	model, err := recommend.Fit(recommend.TrainSet{Interactions: train}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model.Version = 1

	ctx := context.Background()
	perEvent, perSink := coalesceLoop(t, first, model)
	for _, m := range msgs {
		perEvent.handle(ctx, loopDeps{}, perEvent.decodeMessage(m))
		perEvent.flush(ctx)
	}
	coalesced, coSink := coalesceLoop(t, first, model)
	for i, m := range msgs {
		coalesced.handle(ctx, loopDeps{}, coalesced.decodeMessage(m))
		if i == len(msgs)/3 { // one flush in the middle, as a behind flush
			coalesced.flush(ctx)
		}
	}
	coalesced.flush(ctx)

	if perSink.n <= coSink.n {
		t.Fatalf("per-event path published %d deltas, coalesced %d: nothing was coalesced", perSink.n, coSink.n)
	}
	if a, b := perEvent.state, coalesced.state; a.Len() != b.Len() || a.Hash() != b.Hash() {
		t.Fatalf("rating states differ: %d pairs %s, coalesced %d pairs %s", a.Len(), a.Hash(), b.Len(), b.Hash())
	}
	var users []string
	for u := range perEvent.state.Users() {
		users = append(users, u)
	}
	movies := slices.Sorted(func(yield func(string) bool) {
		for m := range known {
			if !yield(m) {
				return
			}
		}
	})
	worst := 0.0
	for _, u := range users {
		if a, b := perEvent.working.Seen(u), coalesced.working.Seen(u); !slices.Equal(a, b) {
			t.Fatalf("user %s: seen %v per event, %v coalesced", u, a, b)
		}
		for _, m := range movies {
			a, b := perEvent.working.Predict(u, m), coalesced.working.Predict(u, m)
			worst = max(worst, math.Abs(a-b))
		}
	}
	// The fold-in solves each user's system to full precision from a
	// different starting vector: equal up to the solver's tolerance.
	if worst > 1e-3 {
		t.Fatalf("predictions differ by up to %g between per-event and coalesced fold-in", worst)
	}
	t.Logf("%d events, %d users: %d deltas per event, %d coalesced; largest prediction difference %.2g",
		len(msgs), len(users), perSink.n, coSink.n, worst)
}
