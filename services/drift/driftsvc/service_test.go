package driftsvc

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// slowStore is a MemoryStore whose writes take delay, counting them.
type slowStore struct {
	MemoryStore
	delay time.Duration
	saved atomic.Int64
}

func (s *slowStore) SaveDriftReport(ctx context.Context, r drift.Report) error {
	time.Sleep(s.delay)
	err := s.MemoryStore.SaveDriftReport(ctx, r)
	s.saved.Add(1)
	return err
}

// TestEndToEndShiftedStream runs the service against a real Kafka-protocol
// broker and NATS server: 1,000 stationary events covered by the serving
// model (the reference), then a shifted current window (ratings down 0.5,
// Drama's share doubled, a burst of new users) plus malformed messages. It
// expects a report with dataset drift on NATS, a retrain request, the DLQ
// copies, and the HTTP views of the report.
func TestEndToEndShiftedStream(t *testing.T) {
	ctx := brokerTest(t, 90*time.Second)
	broker, natsURL := embeddedtest.StartTestKafka(t).Addr(), startNATS(t)

	nc := embeddedtest.Connect(t, natsURL)
	reports := make(chan *nats.Msg, 64)
	retrains := make(chan *nats.Msg, 8)
	if _, err := nc.ChanSubscribe("swipeflix.drift.report", reports); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.ChanSubscribe("swipeflix.trainer.retrain", retrains); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	synth := drift.NewSynth(rand.New(rand.NewPCG(42, 1)), 1000, 500, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Brokers = []string{broker}
	cfg.NATSURL = natsURL
	cfg.Interval = 200 * time.Millisecond
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent = 1000, 1000, 1000
	cfg.RetrainOnDrift = true
	store := &slowStore{delay: 100 * time.Millisecond}
	reg := prometheus.NewRegistry()
	svc, err := New(cfg, Deps{Store: store, Genres: lookupCatalog{synth}, Registerer: reg, Gatherer: reg,
		Now: func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { runErr <- svc.Run(runCtx) }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic("swipeflix.ratings"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// The serving model covers the first 1,000 events: they are the
	// reference, whenever the group reads them.
	cov := produce(t, ctx, cl, synth.Events(1000, drift.Shift{}), nil)
	announce(t, ctx, newBus(t, ctx, natsURL), 1, cov)
	waitFor(t, ctx, "the reference", func() bool { return svc.status().ReferenceReady })

	bad := []*kgo.Record{
		{Key: []byte("u1"), Value: []byte(`{"event_id": "x1", "user_id": `)},
		{Key: []byte("u2"), Value: []byte(`{"event_id":"x2","user_id":"u2","movie_id":"m1","rating":7,"ts":"2026-01-01T00:00:00Z"}`)},
	}
	if err := cl.ProduceSync(ctx, bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, ctx, cl, synth.Events(1000, drift.Shift{RatingDelta: -0.53, BoostGenre: "Drama", BoostFactor: 2, NewUserShare: 0.25}), nil)

	var rep drift.Report
	var received int64
	for !rep.DatasetDrift {
		select {
		case m := <-reports:
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				t.Fatalf("report on NATS is not JSON: %v", err)
			}
			// What others see is already in the store: a restart does
			// not lose a report a client was shown.
			if received++; store.saved.Load() < received {
				t.Fatalf("report %d is on NATS but the store has saved %d", received, store.saved.Load())
			}
		case err := <-runErr:
			t.Fatalf("service stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("no report with dataset drift on NATS; last: share %v", rep.Share)
		}
	}
	if rep.Reference.Events != 1000 || rep.Reference.Population != 1000 || rep.Current.Events != 1000 || rep.ModelVersion != 1 {
		t.Errorf("windows: reference %+v, current %d events, model %d; want 1000 each, model 1",
			rep.Reference, rep.Current.Events, rep.ModelVersion)
	}
	for _, name := range []string{drift.FeatureRating, drift.FeatureGenreMix, drift.FeatureNewUsers} {
		if f, ok := rep.Feature(name); !ok || !f.Drifted {
			t.Errorf("%s not drifted: %+v", name, f)
		}
	}
	if rep.Alert != drift.AlertHigh {
		t.Errorf("alert = %s, want high", rep.Alert)
	}

	select {
	case m := <-retrains:
		req, err := modelbus.DecodeRetrainRequest(m.Data)
		if err != nil || req.Requester != "drift" || !strings.Contains(req.Reason, "dataset drift") || len(req.Drifted) == 0 {
			t.Errorf("retrain request %s (%v)", m.Data, err)
		}
	case <-ctx.Done():
		t.Fatal("no retrain request")
	}

	// Both malformed messages were counted and copied to the DLQ with the reason.
	dlq, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("swipeflix.ratings.dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()
	reasons := map[string]string{}
	for len(reasons) < 2 {
		fs := dlq.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("DLQ holds %d of 2 messages", len(reasons))
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == kafkabus.HeaderReason {
					reasons[string(r.Key)] = string(h.Value)
				}
			}
		})
	}
	if !strings.Contains(reasons["u1"], "malformed JSON") || !strings.Contains(reasons["u2"], "rating: must be 0.5..5") {
		t.Errorf("DLQ reasons = %q", reasons)
	}

	// The HTTP views.
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("/v1/drift/latest")
	var latest drift.Report
	if err := json.Unmarshal([]byte(body), &latest); code != 200 || err != nil || !latest.DatasetDrift {
		t.Errorf("/v1/drift/latest: %d %v, dataset drift %v", code, err, latest.DatasetDrift)
	}
	code, body = get("/report")
	if code != 200 || strings.Count(body, "<svg") != len(drift.FeatureNames()) || strings.Contains(body, "<script") ||
		regexp.MustCompile(`(src|href)="https?:`).MatchString(body) {
		t.Errorf("/report: status %d, %d charts, want one per feature and nothing external", code, strings.Count(body, "<svg"))
	}
	if path := os.Getenv("DRIFT_REPORT_HTML"); path != "" {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, body = get("/metrics")
	for _, want := range []string{"swipeflix_dataset_drift 1", `swipeflix_dlq_messages_total{reason="malformed",service="drift"} 1`,
		`swipeflix_dlq_messages_total{reason="invalid",service="drift"} 1`, `swipeflix_drift_feature_drifted{feature="rating"} 1`,
		`swipeflix_consumer_lag{partition=`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/ready"); code != 200 {
		t.Errorf("/ready = %d, want 200", code)
	}
	if len(store.Reports()) == 0 {
		t.Error("no report stored")
	}

	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

// recordingBus is a ModelBus that keeps what the service announces (Report
// calls it in the caller's goroutine).
type recordingBus struct {
	reports  [][]byte
	retrains []modelbus.RetrainRequest
}

func (b *recordingBus) Watch(ctx context.Context, _ func(modelbus.Manifest)) error {
	<-ctx.Done()
	return ctx.Err()
}

func (b *recordingBus) PublishDriftReport(_ context.Context, report []byte) error {
	b.reports = append(b.reports, report)
	return nil
}

func (b *recordingBus) RequestRetrain(_ context.Context, r modelbus.RetrainRequest) error {
	b.retrains = append(b.retrains, r)
	return nil
}

// Reports and retrain requests go out through Deps.Bus, the process's model
// bus (issue 9: they were published on the bare connection, and the bus's
// PublishDriftReport and RequestRetrain served only tests).
func TestReportsGoThroughTheBus(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReferenceEvents, cfg.CurrentEvents, cfg.MinCurrent, cfg.RetrainOnDrift = 200, 200, 50, true
	synth := drift.NewSynth(rand.New(rand.NewPCG(9, 9)), 200, 100, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	bus := &recordingBus{}
	s, err := New(cfg, Deps{Store: &MemoryStore{}, Genres: lookupCatalog{synth}, NATS: embeddedtest.Connect(t, startNATS(t)), Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	evs := synth.Events(200, drift.Shift{})
	feed(s, 0, evs)
	s.install(drift.NewReference(evs, 10, 1), drift.Coverage{0: 200}, 1)
	feed(s, 200, synth.Events(200, drift.Shift{RatingDelta: -0.53, BoostGenre: "Drama", BoostFactor: 2, NewUserShare: 0.25}))
	rep, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DatasetDrift {
		t.Fatalf("the shifted window raised no dataset drift (share %.3f): the test needs one", rep.Share)
	}
	var got drift.Report
	if len(bus.reports) != 1 || json.Unmarshal(bus.reports[0], &got) != nil || !got.Time.Equal(rep.Time) {
		t.Errorf("reports on the bus: %d, want this report", len(bus.reports))
	}
	if len(bus.retrains) != 1 || bus.retrains[0].Requester != serviceName || bus.retrains[0].Share != rep.Share {
		t.Errorf("retrain requests on the bus: %+v, want one from %s", bus.retrains, serviceName)
	}
}
