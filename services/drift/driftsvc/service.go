package driftsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// Deps are what the caller hands the service: the logger, the Prometheus
// registry, the clock, the report store and the movie genres.
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the service's metrics; Gatherer serves /metrics.
	// Both default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now stamps reports; nil means time.Now.
	Now func() time.Time
	// Store keeps report history; nil means an in-memory store.
	Store ReportStore
	// Genres looks up movie genres for genre_mix; nil counts every movie
	// as without genres.
	Genres drift.GenreLookup
}

// Service is the drift service. Build it with New and start it with Run.
type Service struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	store   ReportStore
	genres  drift.GenreLookup
	metrics *metrics
	gather  prometheus.Gatherer

	nc    *nats.Conn
	dlq   *kafkabus.Producer
	ready atomic.Bool

	mu        sync.Mutex
	collector *drift.ReferenceCollector // nil once the reference is built
	ref       *drift.Reference
	cur       *drift.Sliding
	// knownUsers/knownMovies collect ids leaving the current window; a
	// pinned reference (which carries no ids) treats them as known.
	knownUsers, knownMovies map[string]bool
	pinned                  bool
	consumed, malformed     int64
	reportedAt              int64 // consumed when the last report was made
	latest                  *drift.Report
	latestJSON              []byte
	drifting                bool // the last report had dataset drift (retrain is edge-triggered)
}

// New checks cfg and builds the service; nothing connects until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("drift config: %w", err)
	}
	s := &Service{cfg: cfg, log: deps.Logger, now: deps.Now, store: deps.Store, genres: deps.Genres,
		knownUsers: map[string]bool{}, knownMovies: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("service", serviceName)
	if s.now == nil {
		s.now = time.Now
	}
	if s.store == nil {
		s.store = &MemoryStore{}
	}
	reg, gather, err := telemetry.Registry(deps.Registerer, deps.Gatherer)
	if err != nil {
		return nil, fmt.Errorf("drift deps: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics, s.gather = m, gather
	if cfg.CurrentSpan > 0 {
		s.cur, err = drift.SlidingSpan(cfg.CurrentSpan)
	} else {
		s.cur, err = drift.SlidingCount(cfg.CurrentEvents)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run connects to NATS and Kafka, serves HTTP, consumes the ratings topic
// and reports every interval until ctx ends or a part fails. It returns nil
// after a clean shutdown.
func (s *Service) Run(ctx context.Context) error {
	if err := s.initReference(ctx); err != nil {
		return err
	}
	nc, err := nats.Connect(s.cfg.NATSURL, nats.Name("swipeflix-drift"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect nats %s: %w", s.cfg.NATSURL, err)
	}
	defer nc.Close()
	s.nc = nc
	s.dlq = kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: s.cfg.Brokers, Topic: kafkabus.DLQ})
	defer func() {
		if err := s.dlq.Close(); err != nil {
			s.log.Warn("close dlq producer", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.log.Info("drift service listening", "addr", ln.Addr().String(), "group", s.cfg.GroupID,
		"reference", s.cfg.Reference)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve http: %w", err)
		}
	})
	wg.Go(func() {
		if err := s.consume(ctx); err != nil {
			errc <- err
		}
	})
	wg.Go(func() { s.reportLoop(ctx) })
	wg.Go(func() {
		kafkabus.ReportLag(ctx, s.cfg.Interval, s.cfg.Brokers, s.cfg.GroupID, s.cfg.Topic, s.metrics.consumer.SetLag,
			func(err error) { s.log.Warn("consumer lag", "err", err) })
	})

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("drift service failed", "err", runErr)
	}
	cancel()
	s.ready.Store(false)
	shutCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(shutCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	wg.Wait()
	return runErr
}

// initReference pins the latest stored report when asked to, or prepares
// the collector of the first reference window.
func (s *Service) initReference(ctx context.Context) error {
	var err error
	switch s.cfg.Reference {
	case RefPinned:
		rep, lerr := s.store.LatestDriftReport(ctx)
		if lerr == nil {
			s.ref, err = drift.ReferenceFromReport(rep, s.knownUsers, s.knownMovies)
			if err != nil {
				return fmt.Errorf("pin latest drift report: %w", err)
			}
			s.pinned = true
			s.log.Info("pinned reference", "report_time", rep.Time, "reference_events", rep.Reference.Events)
			return nil
		}
		if !errors.Is(lerr, drift.ErrNoReport) {
			return fmt.Errorf("pin latest drift report: %w", lerr)
		}
		s.log.Warn("no stored report to pin; collecting the first events as reference", "events", s.cfg.ReferenceEvents)
		s.collector, err = drift.FirstN(s.cfg.ReferenceEvents)
	case RefPeriod:
		s.collector, err = drift.Period(s.cfg.ReferenceFrom, s.cfg.ReferenceTo)
	default:
		s.collector, err = drift.FirstN(s.cfg.ReferenceEvents)
	}
	return err
}

// Offsets are committed in batches: the windows live in memory, so a
// restart re-collects its reference anyway (or pins the stored one), and
// committing each message synchronously would cap throughput at one
// round-trip per event.
const (
	commitEvery    = 500
	commitInterval = time.Second
)

// consume reads the ratings topic in the service's consumer group until ctx
// ends. A malformed message is counted, copied to the DLQ and skipped.
func (s *Service) consume(ctx context.Context) error {
	r := kafkabus.NewGroupReader(s.cfg.Brokers, s.cfg.GroupID, s.cfg.Topic,
		kafkabus.WithMaxWait(500*time.Millisecond))
	defer func() {
		if err := r.Close(); err != nil {
			s.log.Warn("close kafka reader", "err", err)
		}
	}()
	var pending []kafkabus.Message
	lastCommit := time.Now()
	commit := func(ctx context.Context) {
		if len(pending) == 0 {
			return
		}
		if err := r.Commit(ctx, pending...); err != nil {
			s.log.Warn("commit offsets", "err", err)
			return
		}
		pending, lastCommit = pending[:0], time.Now()
	}
	defer func() {
		// The run context is gone; give the final commit its own deadline.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		commit(cctx)
	}()
	s.ready.Store(true)
	for {
		m, err := r.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", s.cfg.Topic, err)
		}
		if e, reason, err := decode(m.Value); err != nil {
			s.deadLetter(ctx, m, reason, err)
		} else {
			s.add(e)
		}
		pending = append(pending, m)
		if len(pending) >= commitEvery || time.Since(lastCommit) >= commitInterval {
			commit(ctx)
		}
	}
}

// decode parses and validates one message. reason is the DLQ metric label:
// "invalid" when a field is wrong (the error names it), "malformed" when the
// bytes are not a JSON event at all.
func decode(b []byte) (events.Event, string, error) {
	e, err := events.Decode(b)
	if err == nil {
		return e, "", nil
	}
	var fe *events.FieldError
	if errors.As(err, &fe) {
		return e, "invalid", fmt.Errorf("decode event: %w", err)
	}
	return e, "malformed", fmt.Errorf("decode event: %w", err)
}

func (s *Service) deadLetter(ctx context.Context, m kafkabus.Message, reason string, cause error) {
	s.mu.Lock()
	s.malformed++
	s.mu.Unlock()
	s.metrics.consumer.DeadLettered(reason)
	s.log.Warn("malformed message", "partition", m.Partition, "offset", m.Offset, "reason", reason, "err", cause)
	if err := s.dlq.SendDLQ(ctx, m, "drift: "+cause.Error()); err != nil && ctx.Err() == nil {
		s.log.Error("copy to dlq", "offset", m.Offset, "err", err)
	}
}

// add routes one valid event to the reference or the current window.
func (s *Service) add(e events.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumed++
	if s.collector != nil {
		taken, skip := s.collector.Offer(e)
		if s.collector.Done() {
			s.ref = drift.NewReference(s.collector.Events(), s.genres, s.cfg.Drift.TopMovies)
			s.collector = nil
			s.log.Info("reference window complete", "events", s.ref.Window.Events,
				"from", s.ref.Window.From, "to", s.ref.Window.To)
		}
		if taken || skip {
			return
		}
	}
	for _, old := range s.cur.Add(e) {
		if s.pinned {
			s.knownUsers[old.UserID] = true
			s.knownMovies[old.MovieID] = true
		}
	}
}

func (s *Service) reportLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := s.Report(ctx)
			if err != nil && !errors.Is(err, ErrNotEnoughData) && !errors.Is(err, ErrNoNewEvents) {
				s.log.Error("drift report", "err", err)
			}
		}
	}
}

// Report's reasons for making no report; the report loop skips quietly.
var (
	// ErrNotEnoughData: the reference window is incomplete or the current
	// window is below MinCurrent events.
	ErrNotEnoughData = errors.New("not enough events for a drift report")
	// ErrNoNewEvents: nothing arrived since the last report, which would
	// be repeated unchanged.
	ErrNoNewEvents = errors.New("no new events since the last drift report")
)

// Report compares the windows now, then publishes, stores and exports the
// report. The report loop calls it every interval.
func (s *Service) Report(ctx context.Context) (drift.Report, error) {
	if s.nc == nil {
		return drift.Report{}, errors.New("drift report: not running (no NATS connection)")
	}
	s.mu.Lock()
	if s.ref == nil || s.cur.Len() < s.cfg.MinCurrent {
		refReady, have := s.ref != nil, s.cur.Len()
		s.mu.Unlock()
		return drift.Report{}, fmt.Errorf("%w: reference ready %v, current %d of %d",
			ErrNotEnoughData, refReady, have, s.cfg.MinCurrent)
	}
	if s.latest != nil && s.consumed == s.reportedAt {
		s.mu.Unlock()
		return drift.Report{}, ErrNoNewEvents
	}
	s.reportedAt = s.consumed
	rep, err := drift.Compare(s.cfg.Drift, s.ref, s.cur.Events(), s.genres, s.now().UTC())
	s.mu.Unlock()
	if err != nil {
		return rep, fmt.Errorf("compare windows: %w", err)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return rep, fmt.Errorf("encode drift report: %w", err)
	}
	s.metrics.observe(rep)
	s.mu.Lock()
	s.latest, s.latestJSON = &rep, body
	startDrift := rep.DatasetDrift && !s.drifting
	s.drifting = rep.DatasetDrift
	s.mu.Unlock()

	var errs []error
	if err := s.nc.Publish(s.cfg.ReportSubject, body); err != nil {
		errs = append(errs, fmt.Errorf("publish %s: %w", s.cfg.ReportSubject, err))
	}
	if err := s.store.SaveDriftReport(ctx, rep); err != nil {
		errs = append(errs, fmt.Errorf("store drift report: %w", err))
	}
	if startDrift && s.cfg.RetrainOnDrift {
		if err := s.requestRetrain(rep); err != nil {
			errs = append(errs, err)
		}
	}
	s.log.Info("drift report", "share", rep.Share, "dataset_drift", rep.DatasetDrift, "alert", rep.Alert,
		"drifted", rep.Drifted, "evaluated", rep.Evaluated, "current_events", rep.Current.Events)
	return rep, errors.Join(errs...)
}

// RetrainRequest is the body published on the retrain subject.
type RetrainRequest struct {
	Reason     string    `json:"reason"`
	Requester  string    `json:"requester"`
	ReportTime time.Time `json:"report_time"`
	Share      float64   `json:"share"`
	Drifted    []string  `json:"drifted_features"`
}

func (s *Service) requestRetrain(rep drift.Report) error {
	req := RetrainRequest{Reason: "dataset_drift", Requester: serviceName, ReportTime: rep.Time, Share: rep.Share}
	for _, f := range rep.Features {
		if f.Drifted {
			req.Drifted = append(req.Drifted, f.Name)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode retrain request: %w", err)
	}
	if err := s.nc.Publish(s.cfg.RetrainSubject, body); err != nil {
		return fmt.Errorf("publish %s: %w", s.cfg.RetrainSubject, err)
	}
	s.log.Info("retrain requested", "subject", s.cfg.RetrainSubject, "share", rep.Share)
	return nil
}

// status is the /health body.
type status struct {
	Status          string     `json:"status"`
	Service         string     `json:"service"`
	Ready           bool       `json:"ready"`
	Reference       string     `json:"reference"`
	ReferenceReady  bool       `json:"reference_ready"`
	ReferenceEvents int        `json:"reference_events"`
	CurrentEvents   int        `json:"current_events"`
	Consumed        int64      `json:"consumed"`
	Malformed       int64      `json:"malformed"`
	LatestReport    *time.Time `json:"latest_report_time,omitempty"`
}

func (s *Service) status() status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := status{Status: "ok", Service: serviceName, Ready: s.ready.Load(), Reference: s.cfg.Reference,
		ReferenceReady: s.ref != nil, CurrentEvents: s.cur.Len(), Consumed: s.consumed, Malformed: s.malformed}
	switch {
	case s.ref != nil:
		st.ReferenceEvents = s.ref.Window.Events
	case s.collector != nil:
		st.ReferenceEvents = len(s.collector.Events())
	}
	if s.latest != nil {
		t := s.latest.Time
		st.LatestReport = &t
	}
	return st
}
