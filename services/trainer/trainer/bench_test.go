package trainer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// benchService is a trainer with a state and a fitted working model but no
// brokers: enough for the loop's hot paths.
func benchService(b *testing.B, ratings int) (*Service, []dataset.Rating) {
	b.Helper()
	syn := dataset.Generate(dataset.SizedConfig(ratings, 1))
	rs := syn.Ratings()
	s, err := build(DefaultConfig(), Deps{})
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range rs {
		if _, err := s.loop.state.Update(ratingstate.Event{User: r.User, Movie: r.Movie, Value: float32(r.Value), TS: r.Time,
			EventID: fmt.Sprint(i), Partition: -1, Offset: -1}); err != nil {
			b.Fatal(err)
		}
	}
	view := s.loop.state.Export()
	train, _, _ := split(view.Columns(), 10)
	view.Release()
	cfg := recommend.DefaultConfig()
	cfg.Workers = 1
	m, err := recommend.Fit(recommend.TrainSet{Interactions: train}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	m.Version = 1
	s.loop.working = m
	return s, rs
}

// BenchmarkHandle is one valid message through decode, weights and the
// rating state.
func BenchmarkHandle(b *testing.B) {
	s, err := build(DefaultConfig(), Deps{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]kafkabus.Message, 4096)
	for i := range msgs {
		ev := events.NewSwipe(fmt.Sprint("e", i), fmt.Sprint("u", i%500), fmt.Sprint(i%1700), events.Like,
			time.Unix(int64(1e9+i), 0).UTC(), "bench")
		v, _ := events.Encode(ev)
		msgs[i] = kafkabus.Message{Partition: 0, Value: v}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		m.Offset = int64(i)
		s.loop.handle(ctx, loopDeps{}, s.loop.decodeMessage(m))
	}
}

// BenchmarkFoldOneUser is one flush after a swipe: the user's exact
// fold-in from all their ratings, applied and encoded as a delta (100k
// synthetic ratings, default model).
func BenchmarkFoldOneUser(b *testing.B) {
	s, rs := benchService(b, 100_000)
	user := rs[len(rs)/2].User
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.loop.dirty[user] = struct{}{}
		if _, err := s.loop.foldDirty(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
}
