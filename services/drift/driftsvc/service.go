package driftsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// ModelBus is the model bus as the service uses it. *modelbus.Bus
// implements it.
type ModelBus interface {
	// Watch follows the serving model's manifest (the NATS KV key
	// `current`): it calls fn with the current manifest, if any, then with
	// every new one, until ctx ends.
	Watch(ctx context.Context, fn func(modelbus.Manifest)) error
	// PublishDriftReport announces a report (JSON).
	PublishDriftReport(ctx context.Context, report []byte) error
	// RequestRetrain asks the trainer for a refit.
	RequestRetrain(ctx context.Context, r modelbus.RetrainRequest) error
}

var _ ModelBus = (*modelbus.Bus)(nil)

// Deps are what the caller hands the service. Store and Genres are
// required: without them the service would keep its reports in memory
// and see no genres, so New refuses to build it (pass a MemoryStore
// explicitly for an in-memory run; the service then warns at start).
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the service's metrics; Gatherer serves /metrics.
	// Both default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now stamps reports and times catalog reloads; nil means time.Now.
	Now func() time.Time
	// Store keeps the report history (required): SQLReports over
	// *store.Store in every way of running.
	Store ReportStore
	// Genres is the catalog genre_mix reads (required): a StoreCatalog
	// over *store.Store, or a GenreMap from a movies file.
	Genres Catalog
	// NATS is the process's shared connection; nil: the service dials
	// Config.NATSURL and closes it at the end.
	NATS *nats.Conn
	// Bus follows the serving model (RefModel) and carries reports and
	// retrain requests; nil: a modelbus.Bus on the NATS connection.
	Bus ModelBus
	// Log reads the ratings topic by offset to derive the reference; nil:
	// KafkaLog on Config.Brokers and Config.Topic.
	Log Log
}

// Errors New returns for missing dependencies.
var (
	ErrNoStore   = errors.New("drift: Deps.Store is required (reports would live in memory only and be lost at restart)")
	ErrNoCatalog = errors.New("drift: Deps.Genres is required (genre_mix would count every movie as without genres)")
)

// Service is the drift service. Build it with New and start it with Run.
type Service struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	store   ReportStore
	genres  Catalog
	events  Log
	metrics *metrics
	gather  prometheus.Gatherer

	nc    *nats.Conn
	busMu sync.Mutex
	bus   ModelBus // Deps.Bus, else made by modelBus
	dlq   *kafkabus.Producer
	ready atomic.Bool

	mu sync.Mutex
	// The reference and what it stands for: the serving model's coverage
	// and version (RefModel), or nothing (RefPeriod). refGen counts
	// reference changes, so a new reference makes a new report.
	ref        *drift.Reference
	refCov     drift.Coverage
	refVersion int64
	refGen     int
	refErr     string // why the last attempt to move the reference failed
	cur        *drift.Sliding
	// consumed and refGen when the last report was made: a report needs
	// new events or a new reference.
	reportedAt    [2]int64
	consumed      int64
	malformed     int64
	latest        *drift.Report
	latestJSON    []byte
	drifting      bool // the last report had dataset drift (retrain is edge-triggered)
	catalogMovies int
	catalogAt     time.Time
	// seen is, per partition, the next offset after the last message read:
	// a model fitted in the middle of a load becomes the reference only
	// once it covers all of it.
	seen        map[int32]int64
	genreMisses bool // the last report counted movies without genres
}

// New checks cfg and deps and builds the service; nothing connects until
// Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("drift config: %w", err)
	}
	if deps.Store == nil {
		return nil, ErrNoStore
	}
	if deps.Genres == nil {
		return nil, ErrNoCatalog
	}
	s := &Service{cfg: cfg, log: deps.Logger, now: deps.Now, store: deps.Store, genres: deps.Genres, seen: map[int32]int64{},
		bus: deps.Bus, events: deps.Log, nc: deps.NATS}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("service", serviceName)
	if s.now == nil {
		s.now = time.Now
	}
	if s.events == nil {
		s.events = KafkaLog{Brokers: cfg.Brokers, Topic: cfg.Topic}
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

// Run connects to NATS and Kafka, serves HTTP, consumes the ratings topic,
// follows the reference and reports every interval until ctx ends or a
// part fails. It returns nil after a clean shutdown.
func (s *Service) Run(ctx context.Context) error {
	s.start(ctx)
	if s.nc == nil {
		nc, err := nats.Connect(s.cfg.NATSURL, nats.Name("swipeflix-drift"),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("connect nats %s: %w", modelbus.Redact(s.cfg.NATSURL), err)
		}
		defer nc.Close()
		s.nc = nc
	}
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
	s.log.Info("drift service listening", "addr", ln.Addr().String(), "group", s.cfg.GroupID,
		"reference", s.cfg.Reference, "reference_sample", s.cfg.ReferenceEvents)
	defer s.ready.Store(false)

	grp, gctx := svcmain.NewGroup(ctx)
	grp.Go("http server", func(ctx context.Context) error { return svcmain.ServeHTTP(ctx, ln, s.Handler(), s.cfg.Limits) })
	grp.Go("consumer", s.consume)
	grp.Go("reference", func(ctx context.Context) error {
		if s.cfg.Reference == RefPeriod {
			s.followPeriod(ctx)
		} else {
			s.followModel(ctx)
		}
		return nil
	})
	grp.Go("reports", func(ctx context.Context) error { s.reportLoop(ctx); return nil })
	grp.Go("lag reporter", func(ctx context.Context) error {
		kafkabus.ReportLag(ctx, s.cfg.Interval, s.cfg.Brokers, s.cfg.GroupID, s.cfg.Topic, s.metrics.consumer.SetLag,
			func(err error) { s.log.Warn("consumer lag", "err", err) })
		return nil
	})
	<-gctx.Done()
	if err := grp.Wait(); err != nil {
		s.log.Error("drift service failed", "err", err)
		return err
	}
	return nil
}

// start reads what the store and the catalog hold and says loudly what is
// missing: a service without its report history or its genres works, but
// not as it should.
func (s *Service) start(ctx context.Context) {
	if _, ok := s.store.(*MemoryStore); ok {
		s.log.Warn("drift reports are kept in memory only: they are lost at restart and /v1/drift/latest " +
			"answers 404 until the next report (pass SQLReports as Deps.Store)")
	}
	switch rep, err := s.store.LatestDriftReport(ctx); {
	case err == nil:
		// Keep the retrain edge-triggered across a restart.
		s.drifting = rep.DatasetDrift
		s.log.Info("latest stored drift report", "time", rep.Time, "share", rep.Share, "model_version", rep.ModelVersion)
	case !errors.Is(err, drift.ErrNoReport):
		s.log.Error("read the latest stored drift report; /v1/drift/latest may fail until the store answers", "err", err)
	}
	s.refreshCatalog(ctx)
}

// refreshCatalog reloads the catalog's genres and says so when it has none.
func (s *Service) refreshCatalog(ctx context.Context) {
	n, err := s.genres.Refresh(ctx)
	s.mu.Lock()
	s.catalogAt = s.now()
	if err == nil {
		s.catalogMovies = n
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		s.log.Error("catalog genres unavailable: genre_mix counts unknown movies as without genres until a reload succeeds", "err", err)
	case n == 0:
		s.log.Warn("the catalog has no movies yet: genre_mix counts every movie as without genres until it is loaded " +
			"(the service reloads it at each report meanwhile)")
	default:
		s.log.Info("catalog genres loaded", "movies", n)
	}
}

// Offsets are committed in batches: the current window lives in memory and
// the reference is derived from the log, so a restart loses at most the
// current window (which refills from new events), and committing each
// message synchronously would cap throughput at one round-trip per event.
const (
	commitEvery    = 500
	commitInterval = time.Second
)

// consume reads the ratings topic in the service's consumer group until ctx
// ends. A malformed message is counted, copied to the DLQ and skipped.
func (s *Service) consume(ctx context.Context) error {
	r := kafkabus.NewGroupReader(s.cfg.Brokers, s.cfg.GroupID, s.cfg.Topic)
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
		if e, err := s.decode(m.Value); err != nil {
			s.deadLetter(ctx, m, err)
		} else {
			s.add(drift.Record{Pos: drift.Position{Partition: int32(m.Partition), Offset: m.Offset}, Event: e})
		}
		s.mu.Lock()
		s.seen[int32(m.Partition)] = max(s.seen[int32(m.Partition)], m.Offset+1)
		s.mu.Unlock()
		pending = append(pending, m)
		if len(pending) >= commitEvery || time.Since(lastCommit) >= commitInterval {
			commit(ctx)
		}
	}
}

// decode parses and validates one message, refusing an event time too far
// ahead of this clock, as every consumer does.
func (s *Service) decode(b []byte) (events.Event, error) {
	e, err := events.Decode(b)
	if err == nil {
		err = e.CheckClock(s.now(), s.cfg.MaxClockSkew)
	}
	if err != nil {
		return events.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

func (s *Service) deadLetter(ctx context.Context, m kafkabus.Message, cause error) {
	s.mu.Lock()
	s.malformed++
	s.mu.Unlock()
	reason, _ := events.DLQReason(cause)
	s.metrics.consumer.DeadLettered(reason)
	s.log.Warn("malformed message", "partition", m.Partition, "offset", m.Offset, "reason", reason, "err", cause)
	if err := s.dlq.SendDLQ(ctx, m, "drift: "+cause.Error()); err != nil && ctx.Err() == nil {
		s.log.Error("copy to dlq", "offset", m.Offset, "err", err)
	}
}

// add routes one valid event: below the reference's coverage (RefModel)
// or before the period's end (RefPeriod) it belongs to the reference, which
// is derived from the log; otherwise it joins the current window.
func (s *Service) add(r drift.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumed++
	switch s.cfg.Reference {
	case RefPeriod:
		if r.Event.TS.Before(s.cfg.ReferenceTo) {
			return
		}
	default:
		if s.refCov.Covers(r.Pos) {
			return
		}
	}
	s.cur.Add(r)
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
	// ErrNotEnoughData: there is no reference yet (no serving model, or
	// nothing in the period) or the current window is below MinCurrent
	// events.
	ErrNotEnoughData = errors.New("not enough events for a drift report")
	// ErrNoNewEvents: nothing arrived and the reference did not move since
	// the last report, which would be repeated unchanged.
	ErrNoNewEvents = errors.New("no new events since the last drift report")
)

// Report compares the windows now, then publishes, stores and exports the
// report. The report loop calls it every interval.
func (s *Service) Report(ctx context.Context) (drift.Report, error) {
	if s.nc == nil {
		return drift.Report{}, errors.New("drift report: not running (no NATS connection)")
	}
	s.maybeRefreshCatalog(ctx)
	s.mu.Lock()
	if s.ref == nil || s.cur.Len() < s.cfg.MinCurrent {
		refReady, have := s.ref != nil, s.cur.Len()
		s.mu.Unlock()
		return drift.Report{}, fmt.Errorf("%w: reference ready %v, current %d of %d",
			ErrNotEnoughData, refReady, have, s.cfg.MinCurrent)
	}
	mark := [2]int64{s.consumed, int64(s.refGen)}
	if s.latest != nil && s.reportedAt == mark {
		s.mu.Unlock()
		return drift.Report{}, ErrNoNewEvents
	}
	s.reportedAt = mark
	ref, version, cur := s.ref, s.refVersion, s.cur.Events()
	s.mu.Unlock()

	// The reference is immutable and cur a copy: compare without the lock.
	rep, err := drift.Compare(s.cfg.Drift, ref, cur, s.genres, s.now().UTC())
	if err != nil {
		return rep, fmt.Errorf("compare windows: %w", err)
	}
	rep.ModelVersion = version
	body, err := json.Marshal(rep)
	if err != nil {
		return rep, fmt.Errorf("encode drift report: %w", err)
	}
	// Stored first, so a report anyone was shown survives a restart; the
	// write finishes even when shutdown begins meanwhile.
	var errs []error
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if err := s.store.SaveDriftReport(sctx, rep); err != nil {
		errs = append(errs, fmt.Errorf("store drift report: %w", err))
	}
	cancel()
	s.metrics.observe(rep)
	s.mu.Lock()
	s.latest, s.latestJSON = &rep, body
	startDrift := rep.DatasetDrift && !s.drifting
	s.drifting = rep.DatasetDrift
	s.genreMisses = countsLabel(rep, drift.FeatureGenreMix, drift.LabelNoGenres)
	s.mu.Unlock()

	// Announced under a bound of its own too, as the write above.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer pcancel()
	bus, err := s.modelBus(pctx)
	if err == nil {
		err = bus.PublishDriftReport(pctx, body)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("publish drift report: %w", err))
	}
	if startDrift && s.cfg.RetrainOnDrift && bus != nil {
		if err := s.requestRetrain(pctx, bus, rep); err != nil {
			errs = append(errs, err)
		}
	}
	s.log.Info("drift report", "share", rep.Share, "dataset_drift", rep.DatasetDrift, "alert", rep.Alert,
		"drifted", rep.Drifted, "evaluated", rep.Evaluated, "current_events", rep.Current.Events,
		"model_version", rep.ModelVersion)
	return rep, errors.Join(errs...)
}

// maybeRefreshCatalog reloads the catalog before a report: at every report
// while the catalog is empty, else when the last report counted movies
// without genres, at most every CatalogRefresh.
func (s *Service) maybeRefreshCatalog(ctx context.Context) {
	s.mu.Lock()
	due := s.catalogMovies == 0 || (s.genreMisses && s.now().Sub(s.catalogAt) >= s.cfg.CatalogRefresh)
	s.mu.Unlock()
	if due {
		s.refreshCatalog(ctx)
	}
}

// countsLabel reports whether a feature of rep has observations of label
// in either window.
func countsLabel(rep drift.Report, feature, label string) bool {
	f, ok := rep.Feature(feature)
	if !ok {
		return false
	}
	for _, d := range []drift.Distribution{f.Reference, f.Current} {
		for i, l := range d.Labels {
			if l == label && d.Counts[i] > 0 {
				return true
			}
		}
	}
	return false
}

func (s *Service) requestRetrain(ctx context.Context, bus ModelBus, rep drift.Report) error {
	req := modelbus.RetrainRequest{Reason: "dataset drift: share " + strconv.FormatFloat(rep.Share, 'f', 3, 64),
		Requester: serviceName, Token: s.cfg.RetrainToken, Time: rep.Time, Share: rep.Share}
	for _, f := range rep.Features {
		if f.Drifted {
			req.Drifted = append(req.Drifted, f.Name)
		}
	}
	if err := bus.RequestRetrain(ctx, req); err != nil {
		return fmt.Errorf("request retrain: %w", err)
	}
	s.log.Info("retrain requested", "subject", modelbus.SubjectRetrain, "share", rep.Share)
	return nil
}

// modelBus returns Deps.Bus, else a modelbus.Bus on the service's NATS
// connection, made by the first call that succeeds.
func (s *Service) modelBus(ctx context.Context) (ModelBus, error) {
	s.busMu.Lock()
	defer s.busMu.Unlock()
	if s.bus == nil {
		b, err := modelbus.New(ctx, s.nc, s.log)
		if err != nil {
			return nil, err
		}
		s.bus = b
	}
	return s.bus, nil
}

// status is the /health body.
type status struct {
	Status    string `json:"status"`
	Service   string `json:"service"`
	Ready     bool   `json:"ready"`
	Reference string `json:"reference"`
	// ReferenceReady: a reference exists; ModelVersion is the model whose
	// training events it samples; ReferenceEvents is the sample's size and
	// ReferencePopulation the events it was drawn from.
	ReferenceReady      bool   `json:"reference_ready"`
	ModelVersion        int64  `json:"model_version,omitempty"`
	ReferenceEvents     int    `json:"reference_events"`
	ReferencePopulation int    `json:"reference_population"`
	ReferenceError      string `json:"reference_error,omitempty"`
	CurrentEvents       int    `json:"current_events"`
	MinCurrent          int    `json:"min_current_events"`
	Consumed            int64  `json:"consumed"`
	Malformed           int64  `json:"malformed"`
	CatalogMovies       int    `json:"catalog_movies"`
	// ReportsInMemory: the report history is a MemoryStore.
	ReportsInMemory bool       `json:"reports_in_memory,omitempty"`
	LatestReport    *time.Time `json:"latest_report_time,omitempty"`
}

func (s *Service) status() status {
	_, inMemory := s.store.(*MemoryStore)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := status{Status: "ok", Service: serviceName, Ready: s.ready.Load(), Reference: s.cfg.Reference,
		ReferenceReady: s.ref != nil, ModelVersion: s.refVersion, ReferenceError: s.refErr,
		CurrentEvents: s.cur.Len(), MinCurrent: s.cfg.MinCurrent, Consumed: s.consumed, Malformed: s.malformed,
		CatalogMovies: s.catalogMovies, ReportsInMemory: inMemory}
	if s.ref != nil {
		st.ReferenceEvents, st.ReferencePopulation = s.ref.Window.Events, s.ref.Window.Population
	}
	if s.latest != nil {
		t := s.latest.Time
		st.LatestReport = &t
	}
	return st
}
