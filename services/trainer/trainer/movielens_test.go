package trainer

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// TestMovieLensStream streams ml-latest-small through Kafka into a trainer
// with the default configuration and logs how long it takes to consume,
// fit and publish. It needs the dataset and SWIPEFLIX_MEASURE=1 (it takes
// about a minute on two cores).
func TestMovieLensStream(t *testing.T) {
	if os.Getenv("SWIPEFLIX_MEASURE") != "1" {
		t.Skip("set SWIPEFLIX_MEASURE=1 to stream ml-latest-small through the trainer")
	}
	movies, ratings := datasettest.Load(t, "ml-latest-small")
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.UpsertMovies(ctx, movies); err != nil {
		t.Fatal(err)
	}
	msgs := make([]kafkabus.Message, len(ratings))
	for i, r := range ratings {
		ev := events.NewRating(fmt.Sprintf("ml-%d", i), r.User, r.Movie, r.Value, time.Unix(r.Time, 0).UTC(), "ml-latest-small")
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafkabus.Message{Key: []byte(r.User), Value: b}
	}
	start := time.Now()
	e.publishRaw(t, msgs)
	t.Logf("published %d events to Kafka in %s", len(msgs), time.Since(start).Round(time.Millisecond))

	cfg := DefaultConfig()
	cfg.Addr, cfg.Brokers, cfg.DataDir = "127.0.0.1:0", e.kafka.Brokers(), e.dataDir
	start = time.Now()
	r := e.start(t, cfg, nil)
	waitFor(t, "first model", func() bool { _, ok := e.current(t); return ok })
	first, _ := e.current(t)
	t.Logf("first model v%d after %s: %v pairs, fit %.2fs", first.Version, time.Since(start).Round(time.Millisecond),
		first.Metrics["pairs"], first.Metrics["fit_seconds"])
	waitFor(t, "every event consumed", func() bool { return r.svc.pairs.Load() == int64(len(msgs)) })
	t.Logf("all %d events in the rating state after %s", len(msgs), time.Since(start).Round(time.Millisecond))

	waitFor(t, "first refit counted", func() bool {
		return counter(t, r.reg, "swipeflix_model_refits_total", "published") == 1
	})

	// A refit on request, compared by the gate with the serving model.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.bus.RequestRetrain(rctx, modelbus.RetrainRequest{Reason: "measure"}); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	waitFor(t, "the requested refit", func() bool {
		return counter(t, r.reg, "swipeflix_model_refits_total", "published")+
			counter(t, r.reg, "swipeflix_model_refits_total", "rejected") == 2
	})
	full, _ := e.current(t)
	t.Logf("refit on request done in %s: current v%d, rmse %.4f (serving %.4f), ndcg@10 %.4f (serving %.4f), fit %.2fs, snapshot %d bytes",
		time.Since(asked).Round(time.Millisecond), full.Version, full.Metrics["rmse"], full.Metrics["serving_rmse"],
		full.Metrics["ndcg@10"], full.Metrics["serving_ndcg@10"], full.Metrics["fit_seconds"], full.Size)
	if full.Version != 2 {
		t.Errorf("the same data refitted did not pass the gate: %+v", full)
	}

	// Freshness inside the trainer: a swipe acknowledged by Kafka to its
	// delta on NATS, one swipe at a time.
	deltas := e.watchDeltas(t)
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		user := fmt.Sprint("fresh-", i)
		sent := time.Now()
		e.publish(t, []events.Event{events.NewSwipe("fresh-ev-"+user, user, "1", events.Like, time.Now().UTC(), "measure")})
		waitFor(t, "delta for "+user, func() bool { _, _, ok := deltas.user(user); return ok })
		lat = append(lat, time.Since(sent))
	}
	slices.Sort(lat)
	t.Logf("swipe to delta over %d swipes: p50 %s, p90 %s, max %s", len(lat),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}
