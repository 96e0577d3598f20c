// Package trainer is the SwipeFlix trainer service. It reads every
// partition of swipeflix.ratings from the offsets its checkpoint covers,
// keeps the rating state (the latest event per user and movie), folds every
// change into the model at once and publishes the fold-ins as deltas on
// swipeflix.model.delta; every refit interval, every N events, when the
// state grew or on request it refits the whole model off the fold loop,
// evaluates it on a holdout and publishes it through the model bus when it
// passes the quality gate, registering every candidate in the registry.
// The rating state is checkpointed together with the Kafka offsets it
// covers, so a crash loses nothing and counts nothing twice. One trainer is
// active at a time: it holds a lease on the model bus, which a standby
// waits for.
//
// The parts: Service wires them and serves HTTP; the fold loop (loop.go)
// owns the state and the working model; the refitter (refit.go) fits,
// gates and publishes off the loop; the checkpointer (checkpoint.go)
// writes checkpoints off the loop and commits offsets after them.
package trainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/admin"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// The trainer's small views of its collaborators.
type (
	// modelLoader loads serving models (the same checks as the api's).
	modelLoader interface {
		Load(ctx context.Context, m modelbus.Manifest) (*recommend.Model, error)
		LoadNewest(ctx context.Context, skip func(int64) bool) (*recommend.Model, modelbus.Manifest, []modelbus.Refused, error)
		Watch(ctx context.Context, fn func(modelbus.Manifest)) error
	}
	// modelPublisher stores snapshots, makes one current and prunes the
	// rest.
	modelPublisher interface {
		Publish(ctx context.Context, m modelbus.Manifest, snapshot []byte) (modelbus.Manifest, error)
		Store(ctx context.Context, m modelbus.Manifest, snapshot []byte) (modelbus.Manifest, error)
		Prune(ctx context.Context, r modelbus.Retention, now time.Time) ([]string, error)
	}
	deltaPublisher interface {
		PublishDelta(ctx context.Context, version int64, payload []byte) error
	}
	retrainSource interface {
		SubscribeRetrain(ctx context.Context, fn func(modelbus.RetrainRequest, error)) error
	}
	leaser interface {
		AcquireLease(ctx context.Context, key, holder string, ttl time.Duration, onWait func(string)) (*modelbus.Lease, error)
	}
	currentSetter interface {
		SetCurrent(ctx context.Context, m modelbus.Manifest) error
	}
)

// ModelBus is everything the trainer does on the model bus
// (*modelbus.Bus): load and watch models, publish snapshots and deltas,
// take retrain requests and the active-trainer lease.
type ModelBus interface {
	modelLoader
	modelPublisher
	deltaPublisher
	retrainSource
	leaser
	currentSetter
}

// Registry is the model registry (*store.Store): the writes the trainer
// makes, through a retrying queue, and what the admin routes read and
// change.
type Registry interface {
	store.Writer
	admin.Registry
}

// Catalog is the movie catalog (*modules.CatalogCache).
type Catalog interface {
	Movies(ctx context.Context) []dataset.Movie
	Movie(ctx context.Context, id string) (dataset.Movie, bool)
}

// Deps are the trainer's collaborators.
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the metrics; Gatherer serves /metrics. Both
	// default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock of manifests, model age and event-time checks; nil
	// means time.Now.
	Now      func() time.Time
	Bus      ModelBus
	Registry Registry
	Catalog  Catalog
	// Hooks are for tests; production leaves them nil.
	Hooks *Hooks
}

// Hooks let tests stop the trainer at chosen points. Production never sets
// them.
type Hooks struct {
	// AfterMessage runs in the fold loop after each message.
	AfterMessage func(handled int)
	// CrashOnStop skips the final checkpoint and the lease release, as a
	// kill -9 would.
	CrashOnStop bool
	// NoCommit never commits offsets to the consumer group.
	NoCommit bool
}

// leaseKey is the active-trainer lease.
const leaseKey = "trainer"

// Service is the trainer. Build it with New and start it with Run.
type Service struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	gather  prometheus.Gatherer
	hooks   Hooks

	loop  *foldLoop
	retry *store.Retrying // the registry writes, queued while the database is away

	// Read by HTTP handlers.
	ready   atomic.Bool
	version atomic.Int64 // the version the loop folds into
	pairs   atomic.Int64 // pairs in the rating state
	addr    atomic.Value // string, the bound HTTP address
}

// New checks cfg and builds the service; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("trainer config: %w", err)
	}
	if deps.Bus == nil || deps.Registry == nil || deps.Catalog == nil {
		return nil, errors.New("trainer deps: Bus, Registry and Catalog are required")
	}
	return build(cfg, deps)
}

// build is New without the checks, for benchmarks of the fold loop alone.
func build(cfg Config, deps Deps) (*Service, error) {
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("service", serviceName)
	if s.now == nil {
		s.now = time.Now
	}
	if deps.Hooks != nil {
		s.hooks = *deps.Hooks
	}
	reg, gather, err := telemetry.Registry(deps.Registerer, deps.Gatherer)
	if err != nil {
		return nil, fmt.Errorf("trainer deps: %w", err)
	}
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	s.gather = gather
	if s.retry, err = store.NewRetrying(deps.Registry, store.RetryingConfig{SpoolPath: cfg.spoolPath(), Logger: s.log, Registerer: reg}); err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	s.loop = newFoldLoop(s)
	s.addr.Store("")
	return s, nil
}

// Addr is the HTTP address the service listens on once Run started it.
func (s *Service) Addr() string { return s.addr.Load().(string) }

// Run loads the checkpoint, takes the active-trainer lease (a standby waits
// here), loads the serving model, then consumes, folds in, refits and
// serves HTTP until ctx ends or a part fails. On the way out it writes a
// final checkpoint, commits the offsets it covers and releases the lease.
func (s *Service) Run(ctx context.Context) error {
	cp := newCheckpointer(s.cfg, s.log)
	if err := s.loop.restore(cp); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("trainer: listen on %s: %w", s.cfg.Addr, err)
	}
	s.addr.Store(ln.Addr().String())

	grp, gctx := svcmain.NewGroup(ctx)
	// Health and metrics answer while a standby waits for the lease.
	grp.Go("http server", func(ctx context.Context) error {
		return svcmain.ServeHTTP(ctx, ln, s.routes(), s.cfg.Limits)
	})
	grp.Go("registry retry", s.retry.Run)
	grp.Go("trainer", func(ctx context.Context) error { return s.runActive(ctx, cp) })
	<-gctx.Done()
	return grp.Wait()
}

// runActive takes the lease, then runs the consumer, the fold loop and
// their helpers until ctx ends.
func (s *Service) runActive(ctx context.Context, cp *checkpointer) error {
	holder := s.cfg.instance()
	lease, err := s.deps.Bus.AcquireLease(ctx, leaseKey, holder, s.cfg.LeaseTTL, func(cur string) {
		s.log.Warn("another trainer is active; waiting for its lease as a standby", "active", cur, "instance", holder)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("acquire the active-trainer lease: %w", err)
	}
	s.log.Info("active-trainer lease held", "instance", holder)

	if err := s.loop.loadServing(ctx); err != nil {
		s.log.Warn("no serving model loaded at start", "err", err)
	}
	reader := kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{Brokers: s.cfg.Brokers, Topic: topic,
		Group: s.cfg.Group, From: s.loop.startOffsets(), Logger: s.log})
	producer := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: s.cfg.Brokers, Topic: kafkabus.DLQ})
	defer producer.Close() //nolint:errcheck // nothing left to flush at exit
	var commit committer = reader
	if s.hooks.NoCommit {
		commit = nil
	} else if err := reader.CommitOffsets(ctx, s.loop.startOffsets()); err != nil {
		// Commits only feed lag tools; the next checkpoint's commit retries.
		s.log.Warn("commit the checkpoint's offsets at start", "err", err)
	}

	grp, gctx := svcmain.NewGroup(ctx)
	grp.Go("lease", lease.Keep)
	grp.Go("kafka reader", func(ctx context.Context) error { return reader.Run(ctx, s.loop.msgs) })
	grp.Go("backlog decoder", s.loop.decodeBacklog)
	grp.Go("read-ahead", func(ctx context.Context) error { return s.readAhead(ctx, topic, reader) })
	grp.Go("model watch", func(ctx context.Context) error { return s.deps.Bus.Watch(ctx, s.loop.offerManifest(ctx)) })
	grp.Go("retrain subscription", func(ctx context.Context) error {
		return s.deps.Bus.SubscribeRetrain(ctx, s.onRetrain)
	})
	grp.Go("lag reporter", func(ctx context.Context) error {
		t := time.NewTicker(s.cfg.LagInterval)
		defer t.Stop()
		for {
			for p, l := range reader.Lag() {
				s.metrics.consumer.SetLag(p, l)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	grp.Go("fold loop", func(ctx context.Context) error {
		s.ready.Store(true)
		defer s.ready.Store(false)
		return s.loop.run(ctx, loopDeps{dlq: producer, commit: commit, checkpoints: cp, lag: reader.Lag})
	})
	<-gctx.Done()
	err = grp.Wait()
	if !s.hooks.CrashOnStop && !errors.Is(err, modelbus.ErrLeaseLost) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := lease.Release(rctx); rerr != nil {
			s.log.Warn("release the active-trainer lease", "err", rerr)
		}
	}
	return err
}

// readAhead reads every partition from its end into the loop's live channel
// while the backlog reader is BehindEvents or more behind, so that a fresh
// swipe is folded in and published as a delta without waiting for the
// backlog (foldLoop.handleAhead); it stops once the trainer has caught up.
func (s *Service) readAhead(ctx context.Context, topic string, backlog *kafkabus.PartitionReader) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var stop context.CancelFunc
	var done chan struct{}
	defer func() {
		if stop != nil {
			stop()
			<-done
		}
	}()
	for {
		switch behind := s.loop.isBehind(backlog.Lag()); {
		case behind && stop == nil:
			ends, err := kafkabus.EndOffsets(ctx, s.cfg.Brokers, topic)
			if err != nil {
				s.log.Warn("read ahead of the backlog: end offsets", "err", err)
				break
			}
			from := make(map[int]int64, len(ends))
			for p, o := range ends {
				from[int(p)] = o
			}
			r := kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{Brokers: s.cfg.Brokers, Topic: topic,
				From: from, Logger: s.log.With("reader", "ahead")})
			rctx, cancel := context.WithCancel(ctx)
			stop, done = cancel, make(chan struct{})
			go func() {
				defer close(done)
				_ = r.Run(rctx, s.loop.live) // returns nil when rctx ends
			}()
			s.metrics.readingAhead.Set(1)
			s.log.Info("behind: reading new events ahead of the backlog", "from", from)
		case !behind && stop != nil:
			stop()
			<-done
			stop = nil
			s.metrics.readingAhead.Set(0)
			s.log.Info("caught up: no more reading ahead")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// onRetrain takes a retrain request from NATS: refused without the right
// token when one is configured.
func (s *Service) onRetrain(r modelbus.RetrainRequest, err error) {
	if err != nil {
		s.metrics.retrain.WithLabelValues("refused").Inc()
		s.log.Warn("retrain request refused", "err", err)
		return
	}
	if err := r.Authorize(s.cfg.RetrainToken); err != nil {
		s.metrics.retrain.WithLabelValues("refused").Inc()
		s.log.Warn("retrain request refused", "requester", r.Requester, "err", err)
		return
	}
	s.metrics.retrain.WithLabelValues("accepted").Inc()
	reason := "nats request"
	if r.Requester != "" {
		reason += " from " + r.Requester
	}
	if r.Reason != "" {
		reason += ": " + r.Reason
	}
	s.loop.requestRefit(reason)
}

// The adapters the trainer uses satisfy its small interfaces.
var (
	_ ModelBus  = (*modelbus.Bus)(nil)
	_ Registry  = (*store.Store)(nil)
	_ dlqSender = (*kafkabus.Producer)(nil)
	_ committer = (*kafkabus.PartitionReader)(nil)
)
