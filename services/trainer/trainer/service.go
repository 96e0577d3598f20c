// Package trainer is the SwipeFlix trainer service. It consumes
// swipeflix.ratings in the consumer group swipeflix-trainer, keeps the
// rating state (the latest event per user and movie), folds every change
// into the model at once and publishes the fold-ins as deltas on
// swipeflix.model.delta; every refit interval, every N events or on request
// it refits the whole model off the consume loop, evaluates it on a
// holdout and publishes it through the model bus when it passes the
// quality gate, registering every candidate in the registry. The rating
// state is checkpointed together with the Kafka offsets it covers, so a
// crash loses nothing and counts nothing twice.
package trainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// Deps are the trainer's collaborators. Nil fields get defaults.
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the metrics; Gatherer serves /metrics. Both
	// default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock of manifests and model age; nil means time.Now.
	Now func() time.Time
	// Bus is the model bus; nil means connect to Config.NATSURL (and close
	// it at the end of Run).
	Bus *modelbus.Bus
	// Store is the registry and catalog; nil means open Config.DatabaseURL
	// or the embedded file in Config.DataDir (and close it at the end).
	Store *store.Store
}

// Service is the trainer. Build it with New and start it with Run.
type Service struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	gather  prometheus.Gatherer
	gate    Gate

	// Set up by Run.
	bus       *modelbus.Bus
	st        *store.Store
	reg       registryWriter
	retry     *store.Retrying
	retryReg  prometheus.Registerer
	dlq       dlqSender
	committer committer
	ownBus    bool
	ownStore  bool

	// Owned by the consume loop.
	state         *State
	offsets       map[int32]int64
	lastMsg       map[int32]kafkabus.Message
	working       *recommend.Model    // the serving version plus the trainer's deltas
	base          *recommend.Model    // the serving version as published, for the gate
	dirty         map[string]struct{} // users changed by events: folded in at the next flush
	refold        map[string]struct{} // users a newly installed model has not seen: folded in batches
	refoldBatch   int
	unsent        [][]byte // encoded deltas that failed to publish
	unsentVersion int64
	seq           int64
	newestMillis  int64
	sinceCP       int
	sinceRefit    int
	lastFitLen    int
	lastVersion   int64
	refitting     bool
	refitPending  string
	loggedKinds   map[string]bool
	lastFlush     time.Time
	modelCreated  time.Time

	msgs      chan kafkabus.Message
	installs  chan install
	refitDone chan refitResult
	retrain   chan string
	wg        sync.WaitGroup // refit goroutines
	cpDone    chan checkpointDone
	cpWG      sync.WaitGroup // the checkpoint writer
	cpBusy    bool

	// The catalog as last read for a refit, for new movies' titles.
	catMu   sync.Mutex
	catList []recommend.MovieInfo
	catByID map[string]recommend.MovieInfo

	// Read by HTTP handlers.
	ready   atomic.Bool
	version atomic.Int64
	pairs   atomic.Int64
	addr    atomic.Value // string, the bound HTTP address

	// Test hooks: afterMessage runs in the loop after each message;
	// crashOnStop skips the final checkpoint, as a kill -9 would.
	afterMessage func(handled int)
	crashOnStop  bool
	noCommit     bool
	handled      int
}

// registryWriter is what the trainer writes to the registry
// (store.Retrying, which queues writes while the database is down).
type registryWriter interface {
	Register(ctx context.Context, r store.ModelRecord) error
	Promote(ctx context.Context, version int64, by, reason string) error
}

// dlqSender copies a message to the dead-letter topic.
type dlqSender interface {
	SendDLQ(ctx context.Context, msg kafkabus.Message, reason string) error
}

// install asks the loop to make a model the one it folds into.
type install struct {
	work, base *recommend.Model
	manifest   modelbus.Manifest
}

// New checks cfg and builds the service; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("trainer config: %w", err)
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now, gate: Gate{Tolerance: cfg.GateTolerance},
		offsets: map[int32]int64{}, lastMsg: map[int32]kafkabus.Message{}, dirty: map[string]struct{}{},
		refold: map[string]struct{}{}, refoldBatch: defaultRefoldBatch,
		loggedKinds: map[string]bool{}, state: NewState(),
		msgs: make(chan kafkabus.Message, 512), installs: make(chan install, 4),
		refitDone: make(chan refitResult, 1), retrain: make(chan string, 8), cpDone: make(chan checkpointDone, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("service", serviceName)
	if s.now == nil {
		s.now = time.Now
	}
	reg, gather, err := telemetry.Registry(deps.Registerer, deps.Gatherer)
	if err != nil {
		return nil, fmt.Errorf("trainer deps: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics, s.gather = m, gather
	s.retryReg = reg
	s.addr.Store("")
	return s, nil
}

// Addr is the HTTP address the service listens on once Run started it.
func (s *Service) Addr() string { return s.addr.Load().(string) }

// Run loads the checkpoint and the serving model, then consumes, folds in,
// refits and serves HTTP until ctx ends. On the way out it writes a final
// checkpoint and commits the offsets it covers.
func (s *Service) Run(ctx context.Context) (err error) {
	if err := s.loadCheckpoint(); err != nil {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	defer s.disconnect()
	if s.cfg.CatalogDir != "" {
		if err := s.loadCatalog(ctx); err != nil {
			return fmt.Errorf("trainer: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// A component that fails stops the trainer, and Run reports it.
	var failMu sync.Mutex
	var failed error
	goFn := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(name+" stopped", "err", err)
				failMu.Lock()
				if failed == nil {
					failed = fmt.Errorf("trainer: %s: %w", name, err)
				}
				failMu.Unlock()
				cancel()
			}
		}()
	}

	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("trainer: listen on %s: %w", s.cfg.Addr, err)
	}
	s.addr.Store(ln.Addr().String())
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	goFn("http server", func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("serve http: %w", err)
		case <-ctx.Done():
		}
		sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
		<-served // http.ErrServerClosed
		return nil
	})
	goFn("registry retry", s.retry.Run)

	if err := s.loadServing(ctx); err != nil {
		s.log.Warn("no serving model loaded at start", "err", err)
	}

	producer := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: s.cfg.Brokers, Topic: kafkabus.DLQ})
	defer producer.Close() //nolint:errcheck // nothing left to flush at exit
	s.dlq = producer
	// The consumer outlives the loop: the final checkpoint's offsets are
	// committed in its group generation before it leaves the group.
	cons := newConsumer(s.cfg.Brokers, s.cfg.Group, topic, s.offsets, s.log)
	s.committer = cons
	if s.noCommit {
		s.committer = nil
	}
	consCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	var consWG sync.WaitGroup
	stopConsuming := func() { stopConsumer(); consWG.Wait() }
	defer stopConsuming()
	consWG.Add(1)
	go func() {
		defer consWG.Done()
		if err := cons.Run(consCtx, s.msgs); err != nil {
			s.log.Error("kafka consumer stopped", "err", err)
			failMu.Lock()
			if failed == nil {
				failed = fmt.Errorf("trainer: kafka consumer: %w", err)
			}
			failMu.Unlock()
			cancel()
		}
	}()
	goFn("model watch", func(ctx context.Context) error { return s.bus.Watch(ctx, s.onManifest(ctx)) })
	goFn("retrain subscription", func(ctx context.Context) error {
		return s.bus.SubscribeRetrain(ctx, func(reason string) { s.requestRefit("nats request: " + reason) })
	})
	goFn("lag reporter", func(ctx context.Context) error {
		kafkabus.ReportLag(ctx, s.cfg.LagInterval, s.cfg.Brokers, s.cfg.Group, topic,
			s.metrics.consumer.SetLag,
			func(err error) { s.log.Debug("measure consumer lag", "err", err) })
		return nil
	})

	s.ready.Store(true)
	s.log.Info("trainer running", "addr", s.Addr(), "pairs", s.state.Len(), "offsets", s.offsets)
	s.loop(ctx)
	s.ready.Store(false)
	cancel()
	s.wg.Wait()
	failMu.Lock()
	err = failed
	failMu.Unlock()
	if s.crashOnStop {
		s.cpWG.Wait()
		return err
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if cerr := s.finalCheckpoint(fctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("trainer: final %w", cerr))
	}
	stopConsuming()
	return err
}

// loadCheckpoint restores the rating state and offsets from the data dir.
func (s *Service) loadCheckpoint() error {
	cp, err := LoadCheckpoint(s.cfg.checkpointPath())
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		s.log.Info("no checkpoint: reading the log from the start", "path", s.cfg.checkpointPath())
		return nil
	case err != nil:
		return fmt.Errorf("trainer: %w", err)
	}
	s.state = Restore(cp.Entries)
	for p, o := range cp.Offsets {
		s.offsets[p] = o
	}
	s.pairs.Store(int64(s.state.Len()))
	s.log.Info("checkpoint loaded", "pairs", s.state.Len(), "offsets", cp.Offsets, "saved_at", cp.SavedAt)
	return nil
}

// connect opens the model bus, the store and the retrying registry writer.
func (s *Service) connect(ctx context.Context) error {
	s.bus = s.deps.Bus
	if s.bus == nil {
		b, err := modelbus.Connect(ctx, s.cfg.NATSURL, s.log)
		if err != nil {
			return fmt.Errorf("trainer: %w", err)
		}
		s.bus, s.ownBus = b, true
	}
	s.st = s.deps.Store
	if s.st == nil {
		st, err := store.Open(ctx, store.Config{DatabaseURL: s.cfg.DatabaseURL,
			Path: filepath.Join(s.cfg.DataDir, store.EmbeddedFile), Logger: s.log, TolerateUnavailable: true})
		if err != nil {
			s.disconnect()
			return fmt.Errorf("trainer: %w", err)
		}
		s.st, s.ownStore = st, true
	}
	r, err := store.NewRetrying(s.st, store.RetryingConfig{SpoolPath: s.cfg.spoolPath(), Logger: s.log, Registerer: s.retryReg})
	if err != nil {
		s.disconnect()
		return fmt.Errorf("trainer: %w", err)
	}
	s.retry, s.reg = r, r
	return nil
}

// loadCatalog reads the catalog folder's movies (a missing or malformed
// folder is an error) and stores them. When the store cannot take them (a
// database outage at start), the trainer keeps them in memory as the catalog
// its refits fall back on, and carries on.
func (s *Service) loadCatalog(ctx context.Context) error {
	src, err := dataset.Open(s.cfg.CatalogDir)
	if err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	ms, err := src.Movies()
	if err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	if ms == nil {
		return fmt.Errorf("load catalog: %s has no movies file", s.cfg.CatalogDir)
	}
	if err := s.st.UpsertMovies(ctx, ms); err != nil {
		list := make([]recommend.MovieInfo, len(ms))
		byID := make(map[string]recommend.MovieInfo, len(ms))
		for i, m := range ms {
			list[i] = movieInfo(m)
			byID[m.ID] = list[i]
		}
		s.catMu.Lock()
		s.catList, s.catByID = list, byID
		s.catMu.Unlock()
		s.log.Warn("catalog not stored; refits use the folder's movies until the store answers",
			"dir", s.cfg.CatalogDir, "movies", len(ms), "err", err)
		return nil
	}
	s.log.Info("catalog loaded", "dir", s.cfg.CatalogDir, "movies", len(ms))
	return nil
}

func (s *Service) disconnect() {
	if s.ownBus && s.bus != nil {
		s.bus.Close()
	}
	if s.ownStore && s.st != nil {
		if err := s.st.Close(); err != nil {
			s.log.Warn("close store", "err", err)
		}
	}
}

// loadServing installs the bus's current model and learns the highest
// version used so far (the bus's and the registry's).
func (s *Service) loadServing(ctx context.Context) error {
	if recs, err := s.st.List(ctx, store.ListOptions{}); err == nil {
		for _, r := range recs {
			s.lastVersion = max(s.lastVersion, r.Version)
		}
	} else {
		s.log.Warn("read registry versions", "err", err)
	}
	m, err := s.bus.Current(ctx)
	if err != nil {
		return err
	}
	in, err := s.fetchModel(ctx, m)
	if err != nil {
		return err
	}
	s.install(in)
	return nil
}

// fetchModel downloads and decodes a manifest's snapshot twice: one copy the
// trainer folds into, one kept as published for the quality gate.
func (s *Service) fetchModel(ctx context.Context, m modelbus.Manifest) (install, error) {
	data, err := s.bus.Fetch(ctx, m)
	if err != nil {
		return install{}, err
	}
	work, err := recommend.Decode(data)
	if err != nil {
		return install{}, fmt.Errorf("decode model %d: %w", m.Version, err)
	}
	base, err := recommend.Decode(data)
	if err != nil {
		return install{}, fmt.Errorf("decode model %d: %w", m.Version, err)
	}
	work.Version, base.Version = m.Version, m.Version
	return install{work: work, base: base, manifest: m}, nil
}

// onManifest handles a new value of the bus's `current` (a new version, a
// promotion or a rollback): the loop must fold into that version from now on.
func (s *Service) onManifest(ctx context.Context) func(modelbus.Manifest) {
	return func(m modelbus.Manifest) {
		if m.Version == s.version.Load() {
			return
		}
		in, err := s.fetchModel(ctx, m)
		if err != nil {
			s.log.Error("load current model", "version", m.Version, "err", err)
			return
		}
		select {
		case s.installs <- in:
		case <-ctx.Done():
		}
	}
}

// requestRefit asks the loop for a refit; requests coalesce while one waits.
func (s *Service) requestRefit(reason string) {
	select {
	case s.retrain <- reason:
	default:
	}
}

// minFlushGap is the least time between two flushes triggered by messages.
const minFlushGap = 20 * time.Millisecond

// loop is the only goroutine that touches the rating state and the working
// model. It returns when ctx ends.
func (s *Service) loop(ctx context.Context) {
	deltaT := time.NewTicker(s.cfg.DeltaInterval)
	defer deltaT.Stop()
	cpT := time.NewTicker(s.cfg.CheckpointInterval)
	defer cpT.Stop()
	soonT := time.NewTimer(time.Hour)
	soonT.Stop()
	defer soonT.Stop()
	var soon <-chan time.Time // armed while an early flush waits for minFlushGap
	var refitC <-chan time.Time
	if s.cfg.RefitInterval > 0 {
		t := time.NewTicker(s.cfg.RefitInterval)
		defer t.Stop()
		refitC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			// Fold-ins not yet published are redone after a restart: the
			// serving snapshot does not cover their offsets.
			return
		case m := <-s.msgs:
			s.handle(ctx, m)
			// Once the consumer has caught up, changes go out at once
			// (at most one flush per minFlushGap) rather than at the next
			// tick; under load the tick batches.
			if len(s.msgs) == 0 && (len(s.dirty) > 0 || len(s.refold) > 0) && soon == nil {
				if wait := minFlushGap - s.now().Sub(s.lastFlush); wait > 0 {
					soonT.Reset(wait)
					soon = soonT.C
				} else {
					s.flush(ctx)
				}
			}
		case <-soon:
			soon = nil
			s.flush(ctx)
			if len(s.refold) > 0 && len(s.msgs) == 0 {
				// Drain an install's backlog between events, batch by batch.
				soonT.Reset(minFlushGap)
				soon = soonT.C
			}
		case <-deltaT.C:
			if s.now().Sub(s.lastFlush) >= s.cfg.DeltaInterval/2 {
				s.flush(ctx)
			}
			if len(s.refold) > 0 && len(s.msgs) == 0 && soon == nil {
				soonT.Reset(minFlushGap)
				soon = soonT.C
			}
			s.autoRefit(ctx)
			if !s.modelCreated.IsZero() {
				s.metrics.model.SetAge(s.now().Sub(s.modelCreated))
			}
		case <-cpT.C:
			s.startCheckpoint(ctx)
		case d := <-s.cpDone:
			s.checkpointWritten(ctx, d)
		case <-refitC:
			s.startRefit(ctx, "refit interval")
		case reason := <-s.retrain:
			s.startRefit(ctx, reason)
		case res := <-s.refitDone:
			s.finishRefit(ctx, res)
		case in := <-s.installs:
			s.install(in)
		}
	}
}

// handle applies one message to the rating state.
func (s *Service) handle(ctx context.Context, m kafkabus.Message) {
	if next, ok := s.offsets[int32(m.Partition)]; ok && m.Offset < next {
		return // already in the state: the checkpoint covers it
	}
	s.offsets[int32(m.Partition)] = m.Offset + 1
	s.lastMsg[int32(m.Partition)] = m
	s.sinceCP++
	s.handled++
	e, err := events.Decode(m.Value)
	switch {
	case err != nil:
		s.metrics.invalid.Inc()
		s.deadLetter(ctx, m, err)
	default:
		v, ok := s.cfg.Weights.Signal(&e)
		entry := Entry{User: e.UserID, Movie: e.MovieID, Value: float32(v), TS: e.TS.UnixNano(),
			EventID: e.EventID, Partition: int32(m.Partition), Offset: m.Offset}
		if ok && s.state.Update(entry) {
			s.metrics.applied.Inc()
			s.dirty[e.UserID] = struct{}{}
			s.sinceRefit++
			s.newestMillis = max(s.newestMillis, e.TS.UnixMilli())
			s.pairs.Store(int64(s.state.Len()))
		} else {
			s.metrics.stale.Inc()
		}
	}
	if s.cfg.CheckpointEvery > 0 && s.sinceCP >= s.cfg.CheckpointEvery {
		s.startCheckpoint(ctx)
	}
	if s.cfg.RefitEvery > 0 && s.sinceRefit >= s.cfg.RefitEvery && s.working != nil {
		s.startRefit(ctx, fmt.Sprintf("%d events since the last refit", s.sinceRefit))
	}
	if s.afterMessage != nil {
		s.afterMessage(s.handled)
	}
}

// deadLetter counts a bad message, logs its kind once, and copies it to the
// DLQ with the reason.
func (s *Service) deadLetter(ctx context.Context, m kafkabus.Message, err error) {
	reason, kind := "malformed", "malformed"
	var fe *events.FieldError
	if errors.As(err, &fe) {
		reason, kind = "invalid", "invalid:"+fe.Field
	}
	s.metrics.consumer.DeadLettered(reason)
	if !s.loggedKinds[kind] {
		s.loggedKinds[kind] = true
		s.log.Warn("bad message copied to the dlq (logged once per kind)", "kind", kind,
			"partition", m.Partition, "offset", m.Offset, "err", err)
	}
	if err := s.dlq.SendDLQ(ctx, m, "trainer: "+err.Error()); err != nil && ctx.Err() == nil {
		s.log.Error("copy to dlq", "partition", m.Partition, "offset", m.Offset, "err", err)
	}
}

// checkpointJob is what one checkpoint writes and then commits, copied by
// the loop so the file is written off it.
type checkpointJob struct {
	cp   Checkpoint
	msgs []kafkabus.Message // the last message per partition, to commit
}

// checkpointDone is a written checkpoint's outcome; uncommitted holds the
// messages whose commit failed, for the next checkpoint to retry.
type checkpointDone struct {
	err         error
	uncommitted []kafkabus.Message
}

// takeCheckpoint copies the state with the offsets it covers (unsorted:
// the writer sorts) and the messages to commit after the write.
func (s *Service) takeCheckpoint() checkpointJob {
	job := checkpointJob{cp: Checkpoint{SavedAt: s.now().UTC(), Offsets: make(map[int32]int64, len(s.offsets)),
		Entries: make([]Entry, 0, s.state.Len())}}
	s.state.Each(func(e *Entry) { job.cp.Entries = append(job.cp.Entries, *e) })
	for p, o := range s.offsets {
		job.cp.Offsets[p] = o
	}
	for _, m := range s.lastMsg {
		job.msgs = append(job.msgs, m)
	}
	clear(s.lastMsg)
	s.sinceCP = 0
	return job
}

// writeCheckpoint saves job's checkpoint, then commits its offsets: a
// commit never runs ahead of a checkpoint on disk.
func writeCheckpoint(ctx context.Context, path string, job checkpointJob, c committer) checkpointDone {
	sortEntries(job.cp.Entries)
	if err := SaveCheckpoint(path, job.cp); err != nil {
		return checkpointDone{err: err, uncommitted: job.msgs}
	}
	if len(job.msgs) == 0 || c == nil {
		return checkpointDone{}
	}
	if err := c.Commit(ctx, job.msgs...); err != nil {
		// The checkpoint holds these offsets; the commit only trails it.
		return checkpointDone{err: fmt.Errorf("checkpoint saved, but %w", err), uncommitted: job.msgs}
	}
	return checkpointDone{}
}

// startCheckpoint writes a checkpoint in a goroutine the loop waits for;
// one runs at a time, and a checkpoint due meanwhile waits for the next
// trigger.
func (s *Service) startCheckpoint(ctx context.Context) {
	if s.cpBusy || s.sinceCP == 0 {
		return
	}
	job := s.takeCheckpoint()
	s.cpBusy = true
	s.cpWG.Add(1)
	go func() {
		defer s.cpWG.Done()
		s.cpDone <- writeCheckpoint(ctx, s.cfg.checkpointPath(), job, s.committer)
	}()
}

// checkpointWritten takes a background checkpoint's outcome.
func (s *Service) checkpointWritten(ctx context.Context, d checkpointDone) {
	s.cpBusy = false
	for _, m := range d.uncommitted {
		if _, newer := s.lastMsg[int32(m.Partition)]; !newer {
			s.lastMsg[int32(m.Partition)] = m
		}
	}
	if d.err != nil && ctx.Err() == nil {
		s.log.Error("checkpoint", "err", d.err)
	}
}

// finalCheckpoint waits for a checkpoint in flight, then writes one that
// covers everything the loop handled.
func (s *Service) finalCheckpoint(ctx context.Context) error {
	s.cpWG.Wait()
	if s.cpBusy {
		s.checkpointWritten(ctx, <-s.cpDone)
	}
	s.sinceCP = 1 // always write: the last word on disk is this run's
	d := writeCheckpoint(ctx, s.cfg.checkpointPath(), s.takeCheckpoint(), s.committer)
	return d.err
}

// committer commits consumed offsets to the consumer group.
type committer interface {
	Commit(ctx context.Context, msgs ...kafkabus.Message) error
}

// install makes in the model the loop folds into and marks for fold-in
// every user whose ratings the snapshot did not see: pairs held out of its
// fit and events at or after the offsets it covers.
func (s *Service) install(in install) {
	v := in.manifest.Version
	if s.working != nil && s.working.Version == v {
		return
	}
	s.working, s.base = in.work, in.base
	clear(s.refold)
	// Delta sequence numbers start from the install time in microseconds,
	// so they keep increasing for a version across trainer restarts.
	s.seq, s.unsent = s.now().UnixMicro(), nil
	s.lastVersion = max(s.lastVersion, v)
	s.version.Store(v)
	s.metrics.setVersion(v)
	s.modelCreated = in.manifest.CreatedAt
	if p, ok := in.manifest.Metrics["pairs"]; ok && s.lastFitLen == 0 {
		s.lastFitLen = int(p)
	}
	s.state.Each(func(e *Entry) {
		next, ok := in.manifest.Offsets[e.Partition]
		if !ok || e.Offset >= next || InHoldout(e.User, e.Movie, s.cfg.HoldoutPercent) {
			s.refold[e.User] = struct{}{}
		}
	})
	s.log.Info("model installed", "version", v, "users_to_fold", len(s.refold)+len(s.dirty))
}

// catalogMovie returns what the catalog knows of a movie, or a placeholder.
func (s *Service) catalogMovie(ctx context.Context, id string) recommend.MovieInfo {
	s.catMu.Lock()
	m, ok := s.catByID[id]
	s.catMu.Unlock()
	if ok {
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	mv, err := s.st.Movie(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Debug("catalog lookup", "movie", id, "err", err)
		}
		return recommend.MovieInfo{ID: id}
	}
	return movieInfo(mv)
}

func movieInfo(m dataset.Movie) recommend.MovieInfo {
	return recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags, Overview: m.Overview}
}

// The adapters the trainer uses satisfy its small interfaces.
var (
	_ registryWriter = (*store.Retrying)(nil)
	_ registryStore  = (*store.Store)(nil)
	_ dlqSender      = (*kafkabus.Producer)(nil)
	_ committer      = (*consumer)(nil)
)
