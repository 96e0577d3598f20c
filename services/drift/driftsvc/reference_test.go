package driftsvc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

func newProducer(t testing.TB, broker string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(kafkabus.Ratings))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestKafkaLog reads stretches of a real (kfake) topic by offset.
func TestKafkaLog(t *testing.T) {
	ctx := brokerTest(t, 60*time.Second)
	broker := embeddedtest.StartTestKafka(t).Addr()
	synth := drift.NewSynth(rand.New(rand.NewPCG(1, 1)), 50, 20, time.Unix(0, 0))
	cov := produce(t, ctx, newProducer(t, broker), synth.Events(300, drift.Shift{}), nil)
	l := KafkaLog{Brokers: []string{broker}, Topic: kafkabus.Ratings}
	bounds, err := l.Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bounds) != 3 {
		t.Fatalf("bounds of %d partitions, want 3: %v", len(bounds), bounds)
	}
	total := 0
	for p, b := range bounds {
		if b.First != 0 || b.End != cov[p] {
			t.Errorf("partition %d: bounds %+v, want 0..%d", p, b, cov[p])
		}
		total += int(b.End)
	}
	if total != 300 {
		t.Errorf("the partitions hold %d records, want 300", total)
	}
	var got []int64
	err = l.Read(ctx, 0, 2, 7, func(off int64, value []byte) error {
		if _, err := events.Decode(value); err != nil {
			t.Errorf("record %d: %v", off, err)
		}
		got = append(got, off)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []int64{2, 3, 4, 5, 6}) {
		t.Errorf("read [2, 7) of partition 0: offsets %v, %v", got, err)
	}
	if err := l.Read(ctx, 0, 5, 5, func(int64, []byte) error { t.Error("empty range read a record"); return nil }); err != nil {
		t.Error(err)
	}
}

// sampleOf is the reference a sampler draws from evs with the service's
// settings: what the service must derive from the log, however it gets
// there.
func sampleOf(t testing.TB, cfg Config, evs []events.Event) *drift.Reference {
	t.Helper()
	sm, err := drift.NewSampler(cfg.ReferenceEvents, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		sm.Add(e)
	}
	return sm.Reference(cfg.Drift.PopularityBuckets)
}

// TestReferenceFollowsTheModel: the reference is what the serving model
// covers. Built when the first model arrives, extended by a refit that
// covers more (reading only the new stretch of the log), rebuilt on a
// rollback, and each time equal to the sample drawn directly from the
// covered events.
func TestReferenceFollowsTheModel(t *testing.T) {
	ctx := brokerTest(t, 90*time.Second)
	broker, natsURL := embeddedtest.StartTestKafka(t).Addr(), startNATS(t)
	cl := newProducer(t, broker)
	bus := newBus(t, ctx, natsURL)
	synth := drift.NewSynth(rand.New(rand.NewPCG(2, 2)), 300, 150, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	first, later := synth.Events(600, drift.Shift{}), synth.Events(900, drift.Shift{RatingDelta: -1})
	cov1 := produce(t, ctx, cl, first, nil)
	cov2 := produce(t, ctx, cl, later, drift.Coverage(clone(cov1)))

	cfg := DefaultConfig()
	cfg.Brokers, cfg.NATSURL, cfg.Interval = []string{broker}, natsURL, 100*time.Millisecond
	cfg.ReferenceEvents = 400
	nc := embeddedtest.Connect(t, natsURL)
	svc, err := New(cfg, Deps{Store: &MemoryStore{}, Genres: lookupCatalog{synth}, NATS: nc, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	// The live path holds every event until a model covers it.
	for _, e := range append(append([]events.Event(nil), first...), later...) {
		svc.add(drift.Record{Pos: drift.Position{Partition: 9, Offset: 0}, Event: e})
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.followModel(runCtx) }()
	defer func() { stop(); <-done }()

	check := func(version int64, covered []events.Event) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprint("the reference of model ", version), func() bool {
			svc.mu.Lock()
			defer svc.mu.Unlock()
			return svc.refVersion == version
		})
		svc.mu.Lock()
		ref := svc.ref
		svc.mu.Unlock()
		want := sampleOf(t, cfg, covered)
		if !reflect.DeepEqual(ref, want) {
			t.Errorf("model %d: reference %+v, want the sample of its %d covered events %+v", version, ref.Window, len(covered), want.Window)
		}
	}
	announce(t, ctx, bus, 1, cov1)
	check(1, first)
	announce(t, ctx, bus, 2, cov2)
	check(2, append(append([]events.Event(nil), first...), later...))
	// A rollback to model 1 (the registry's roll back sets `current` to
	// the older manifest).
	m1, err := bus.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1.Version, m1.Offsets = 1, map[int32]int64(cov1)
	if err := bus.SetCurrent(ctx, m1); err != nil {
		t.Fatal(err)
	}
	check(1, first)
	if st := svc.status(); st.ReferencePopulation != 600 || st.ReferenceError != "" {
		t.Errorf("after the rollback: %+v", st)
	}
}

func clone(c drift.Coverage) map[int32]int64 {
	out := make(map[int32]int64, len(c))
	for p, o := range c {
		out[p] = o
	}
	return out
}

// TestPeriodReference: with a configured period the reference is the
// events of that period, read from the log, and the current window the
// events after it.
func TestPeriodReference(t *testing.T) {
	ctx := brokerTest(t, 90*time.Second)
	broker := embeddedtest.StartTestKafka(t).Addr()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synth := drift.NewSynth(rand.New(rand.NewPCG(3, 3)), 300, 100, start)
	evs := synth.Events(700, drift.Shift{}) // one event a second
	produce(t, ctx, newProducer(t, broker), evs, nil)

	cfg := DefaultConfig()
	cfg.Brokers, cfg.Interval = []string{broker}, 100*time.Millisecond
	cfg.Reference = RefPeriod
	cfg.ReferenceFrom, cfg.ReferenceTo = start.Add(100*time.Second), start.Add(400*time.Second)
	cfg.CurrentEvents, cfg.MinCurrent = 200, 100
	s, _ := newOffline(t, cfg, nil)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.followPeriod(runCtx) }()
	defer func() { stop(); <-done }()
	waitFor(t, ctx, "the period's reference", func() bool { return s.status().ReferencePopulation == 300 })

	feed(s, 0, evs) // the live path keeps the events at or after the period's end
	rep, err := s.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reference.Population != 300 || !rep.Reference.From.Equal(cfg.ReferenceFrom) ||
		!rep.Reference.To.Equal(cfg.ReferenceTo.Add(-time.Second)) || rep.Current.Events != 200 || rep.ModelVersion != 0 {
		t.Errorf("reference %+v, current %+v; want the 300 events from %s and 200 current",
			rep.Reference, rep.Current, cfg.ReferenceFrom)
	}
	if !reflect.DeepEqual(s.ref, sampleOf(t, cfg, evs[100:400])) {
		t.Error("the period's reference is not the sample of its events")
	}
}
