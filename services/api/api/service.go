package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// Source is where the api gets its models; *modelbus.Bus is one.
type Source interface {
	// Watch calls fn with the current manifest and every later value of
	// it (new versions and rollbacks) until ctx ends.
	Watch(ctx context.Context, fn func(modelbus.Manifest)) error
	// Fetch downloads a snapshot and checks it against its manifest.
	Fetch(ctx context.Context, m modelbus.Manifest) ([]byte, error)
	// SubscribeDeltas calls fn with each delta and the snapshot version it
	// applies to until ctx ends.
	SubscribeDeltas(ctx context.Context, fn func(version int64, payload []byte)) error
	// History returns the manifests that were current, newest first: where
	// the api falls back when the current one does not load.
	History(ctx context.Context) ([]modelbus.Manifest, error)
}

var _ Source = (*modelbus.Bus)(nil)

// Deps are what the caller hands the service rather than it building them.
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the service's metrics; Gatherer serves /metrics.
	// Both default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Source provides the models; nil means Run connects to Config.NATSURL.
	Source Source
}

// serving is one loaded model with what the api reports about it. A request
// loads the pointer once and finishes on that model whatever swaps happen
// meanwhile.
type serving struct {
	model    *recommend.Model
	manifest modelbus.Manifest
	// version is the manifest version as the api shows it ("v3").
	version  string
	loadedAt time.Time
	// cache holds recent answers of this model; nil when disabled.
	cache *answerCache
	// views are the deck's and the search's reading of the catalog.
	views   *catalogViews
	deltas  atomic.Int64
	lastSeq atomic.Int64
}

// Service is the api service. Build it with New and start it with Run or
// Serve.
type Service struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	gather  prometheus.Gatherer
	metrics *metrics
	source  Source

	cur atomic.Pointer[serving]
	// pending holds the newest manifest not yet loaded; a newer one
	// replaces it, so a slow download never queues stale versions.
	pending chan modelbus.Manifest

	// deltaMu orders deltas against swaps; early holds deltas for versions
	// newer than the serving one (earlyN of them in all).
	deltaMu sync.Mutex
	early   map[int64][]recommend.Delta
	earlyN  int

	deck deckState

	app *fiber.App

	// loadMu guards what the loader knows of versions that did not load.
	loadMu sync.Mutex
	// refused are versions whose snapshot does not load (checksum,
	// format, version): never tried again.
	refused map[int64]bool
	// gaveUp are versions whose download kept failing for other reasons;
	// a delta for one of them triggers another try (a re-sync).
	gaveUp map[int64]modelbus.Manifest
	// fallback says why the serving model is not the current one; empty
	// when it is.
	fallback string
}

// New checks cfg and builds the service; nothing connects until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	var err error
	if deps.Registerer, deps.Gatherer, err = telemetry.Registry(deps.Registerer, deps.Gatherer); err != nil {
		return nil, fmt.Errorf("api deps: %w", err)
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:     cfg,
		log:     deps.Logger.With("service", serviceName),
		now:     deps.Now,
		gather:  deps.Gatherer,
		metrics: m,
		source:  deps.Source,
		pending: make(chan modelbus.Manifest, 1),
		early:   map[int64][]recommend.Delta{},
		refused: map[int64]bool{},
		gaveUp:  map[int64]modelbus.Manifest{},
	}
	s.app = s.newApp()
	return s, nil
}

// App is the service's Fiber app, for in-process tests and embedding.
func (s *Service) App() *fiber.App { return s.app }

// Run serves HTTP on cfg.Addr until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return svcmain.ListenAndServe(ctx, serviceName, s.cfg.Addr, s.Serve)
}

// Serve is Run on a listener the caller opened (tests use port 0). It
// watches the model bus, loads and swaps models and applies deltas in the
// background, serves HTTP, and when ctx ends stops the background work and
// lets in-flight requests finish (up to cfg.ShutdownTimeout) on the model
// they started with.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	src := s.source
	if src == nil {
		bus, err := modelbus.Connect(ctx, s.cfg.NATSURL, s.log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("api: %w", err)
		}
		defer bus.Close()
		src = bus
	}
	s.openImpressions(ctx, src)
	// One supervisor: HTTP and the model bus loops stop together when ctx
	// ends, and a loop that stops on its own stops the service.
	g, gctx := svcmain.NewGroup(ctx)
	g.Go("watch manifests", func(ctx context.Context) error {
		s.retry(ctx, "watch manifests", func() error { return src.Watch(ctx, s.offer) })
		return nil
	})
	g.Go("load models", func(ctx context.Context) error { s.loadLoop(ctx, src); return nil })
	g.Go("apply deltas", func(ctx context.Context) error {
		s.retry(ctx, "subscribe deltas", func() error { return src.SubscribeDeltas(ctx, s.applyDelta) })
		return nil
	})
	g.Go("model age", func(ctx context.Context) error { s.ageLoop(ctx); return nil })
	s.log.Info("api listening", "addr", ln.Addr().String())
	g.Go("http", func(ctx context.Context) error {
		err := svcmain.ServeFiber(ctx, s.app, ln, s.cfg.ShutdownTimeout)
		if errors.Is(err, svcmain.ErrDrainTimeout) {
			s.log.Warn("api shutdown", "err", err)
			return nil
		}
		return err
	})
	<-gctx.Done()
	if err := g.Wait(); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}

// retry runs fn until ctx ends, waiting cfg.RetryBackoff after each error.
// fn is a blocking subscription that returns nil once ctx has ended.
func (s *Service) retry(ctx context.Context, what string, fn func() error) {
	for {
		err := fn()
		if ctx.Err() != nil {
			return
		}
		s.log.Error("model bus subscription lost; retrying", "op", what, "err", err, "backoff", s.cfg.RetryBackoff)
		if !sleep(ctx, s.cfg.RetryBackoff) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ageLoop keeps swipeflix_model_age_seconds current between scrapes.
func (s *Service) ageLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		s.updateAge()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) updateAge() {
	if sv := s.cur.Load(); sv != nil && !sv.manifest.CreatedAt.IsZero() {
		s.metrics.model.SetAge(s.now().Sub(sv.manifest.CreatedAt))
	}
}

// offer makes m the next manifest to load, replacing one still waiting.
// Only the watch goroutine calls it.
func (s *Service) offer(m modelbus.Manifest) {
	for {
		select {
		case s.pending <- m:
			return
		default:
		}
		select {
		case old := <-s.pending:
			s.log.Info("skip model superseded before it was loaded", "version", old.Version, "by", m.Version)
		default:
		}
	}
}

// maxLoadAttempts bounds the retries of a download that failed for a
// reason other than the snapshot itself (a network error, say).
const maxLoadAttempts = 5

// loadLoop loads each offered manifest off the request path and swaps it
// in. A manifest whose snapshot does not load is refused (the serving model
// stays); without a serving model the api falls back on the newest model of
// the registry's history that loads.
func (s *Service) loadLoop(ctx context.Context, src Source) {
	for {
		var m modelbus.Manifest
		select {
		case <-ctx.Done():
			return
		case m = <-s.pending:
		}
		for attempt := 1; ; attempt++ {
			err := s.load(ctx, src, m)
			if err == nil || ctx.Err() != nil {
				break
			}
			if permanent(err) || attempt == maxLoadAttempts {
				s.metrics.swapRefused.Inc()
				s.log.Error("refuse model; the serving model stays", "version", m.Version,
					"serving", s.servingVersion(), "attempts", attempt, "err", err)
				s.loadMu.Lock()
				if permanent(err) {
					s.refused[m.Version] = true
				} else {
					s.gaveUp[m.Version] = m
				}
				s.loadMu.Unlock()
				if s.cur.Load() == nil {
					s.fallBack(ctx, src, m, err)
				}
				break
			}
			s.log.Warn("load model failed; retrying", "version", m.Version, "attempt", attempt, "err", err)
			if !sleep(ctx, s.cfg.RetryBackoff) {
				return
			}
			// A newer manifest wins over retrying this one.
			select {
			case m = <-s.pending:
				attempt = 0
			default:
			}
		}
	}
}

// permanent reports whether err is about the snapshot itself, so that
// downloading it again cannot help.
func permanent(err error) bool { return modelbus.Permanent(err) }

// fallBack serves the newest model of the registry's history that loads,
// when the current one (bad) does not and nothing serves yet: the api
// answers with the last good model rather than 503, and says so in /health
// and swipeflix_model_fallback.
func (s *Service) fallBack(ctx context.Context, src Source, bad modelbus.Manifest, why error) {
	hist, err := src.History(ctx)
	if err != nil {
		s.log.Error("no fallback: read the registry's history", "err", err)
		return
	}
	for _, m := range hist {
		s.loadMu.Lock()
		skip := s.refused[m.Version]
		s.loadMu.Unlock()
		if skip || m.Version == bad.Version {
			continue
		}
		data, err := src.Fetch(ctx, m)
		if err == nil {
			var model *recommend.Model
			if model, err = modelbus.Decode(m, data); err == nil {
				reason := fmt.Sprintf("the current model v%d does not load (%v); serving v%d, the newest that does", bad.Version, why, m.Version)
				s.swapFallback(model, m, reason)
				return
			}
		}
		s.log.Warn("fallback candidate does not load", "version", m.Version, "err", err)
	}
	s.log.Error("no model of the registry's history loads; /predict answers 503", "current", bad.Version)
}

// load fetches, verifies and decodes m's snapshot with the checks the
// trainer applies too (modelbus.Decode), and swaps it in.
func (s *Service) load(ctx context.Context, src Source, m modelbus.Manifest) error {
	if cur := s.cur.Load(); cur != nil && cur.manifest.Version == m.Version && cur.manifest.SHA256 == m.SHA256 {
		return nil
	}
	data, err := src.Fetch(ctx, m)
	if err != nil {
		return err
	}
	model, err := modelbus.Decode(m, data)
	if err != nil {
		return err
	}
	s.swap(model, m, "")
	return nil
}

// swapFallback swaps in a model that is not the current one, and says why.
func (s *Service) swapFallback(model *recommend.Model, m modelbus.Manifest, reason string) {
	s.swap(model, m, reason)
	s.log.Error("serving a fallback model", "version", m.Version, "reason", reason)
}

// fallbackReason is why the serving model is not the current one ("" when
// it is).
func (s *Service) fallbackReason() string {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return s.fallback
}

// swap makes model the serving one; fallback says why it is not the
// current one ("" when it is). Requests already running keep the model
// they loaded. Deltas that arrived for this version before it was loaded
// are applied first, under the delta lock, so none can slip in between.
// The fallback state is set before the model is visible, so whoever sees
// the model sees why it serves.
func (s *Service) swap(model *recommend.Model, m modelbus.Manifest, fallback string) {
	sv := &serving{model: model, manifest: m, version: versionName(m.Version), loadedAt: s.now(),
		cache: newAnswerCache(s.cfg.CacheEntries), views: newCatalogViews(model)}
	s.deltaMu.Lock()
	held := s.early[m.Version]
	for v, ds := range s.early {
		if v <= m.Version {
			s.earlyN -= len(ds)
			delete(s.early, v)
		}
	}
	for _, d := range held {
		s.applyTo(sv, d)
	}
	s.loadMu.Lock()
	s.fallback = fallback
	delete(s.gaveUp, m.Version)
	s.loadMu.Unlock()
	if fallback != "" {
		s.metrics.fallback.Set(1)
	} else {
		s.metrics.fallback.Set(0)
	}
	old := s.cur.Swap(sv)
	s.deltaMu.Unlock()

	s.metrics.swapOK.Inc()
	// The bare number, as the trainer labels it, so the two series join.
	s.metrics.model.SetVersion(strconv.FormatInt(m.Version, 10))
	s.updateAge()
	attrs := []any{"version", m.Version, "object", m.Object, "size", m.Size, "early_deltas", len(held)}
	if old != nil {
		attrs = append(attrs, "previous", old.manifest.Version, "rollback", m.Version < old.manifest.Version)
	}
	s.log.Info("model swapped in", attrs...)
}

func versionName(v int64) string { return "v" + strconv.FormatInt(v, 10) }

func (s *Service) servingVersion() int64 {
	if sv := s.cur.Load(); sv != nil {
		return sv.manifest.Version
	}
	return 0
}

// maxEarlyDeltas bounds the deltas held for a version not loaded yet.
const maxEarlyDeltas = 4096

// applyDelta folds a trainer delta into the serving model when it is for
// that model's version. A delta for a newer version (or any, before the
// first model) arrived before its snapshot finished loading: it is held and
// applied at the swap, so a refit loses no fold-in. A delta for an older
// version is obsolete and dropped.
func (s *Service) applyDelta(version int64, payload []byte) {
	d, err := recommend.DecodeDelta(payload)
	if err != nil {
		s.log.Warn("drop undecodable delta", "version", version, "err", err)
		return
	}
	if d.BaseVersion != version {
		s.log.Warn("drop delta whose header and body disagree", "header_version", version, "base_version", d.BaseVersion)
		return
	}
	s.deltaMu.Lock()
	defer s.deltaMu.Unlock()
	sv := s.cur.Load()
	switch {
	case sv != nil && sv.manifest.Version == version:
		s.applyTo(sv, d)
	case sv == nil || version > sv.manifest.Version:
		s.resync(version)
		if s.earlyN >= maxEarlyDeltas {
			s.log.Warn("drop early delta: too many held", "version", version, "seq", d.Seq, "held", s.earlyN)
			return
		}
		s.early[version] = append(s.early[version], d)
		s.earlyN++
	default:
		s.log.Debug("drop delta for an older version", "delta_version", version, "serving", sv.manifest.Version)
	}
}

// resync loads again a version whose download the loader gave up on, when
// a delta shows the trainer folds into it: otherwise the api would hold its
// deltas for ever and swipes would never reach /predict.
func (s *Service) resync(version int64) {
	s.loadMu.Lock()
	m, ok := s.gaveUp[version]
	delete(s.gaveUp, version)
	s.loadMu.Unlock()
	if ok {
		s.log.Warn("deltas arrive for a model the api gave up loading; loading it again", "version", version)
		s.offerAgain(m)
	}
}

// offerAgain is offer from outside the watch goroutine: it queues m unless
// a newer manifest waits.
func (s *Service) offerAgain(m modelbus.Manifest) {
	select {
	case s.pending <- m:
	default:
	}
}

// applyTo applies d to sv's model and drops the cached answers it changes.
// The caller holds deltaMu.
func (s *Service) applyTo(sv *serving, d recommend.Delta) {
	if err := sv.model.Apply(d); err != nil {
		s.log.Warn("drop delta the model refused", "version", d.BaseVersion, "seq", d.Seq, "err", err)
		return
	}
	if sv.cache != nil {
		if len(d.Movies) > 0 {
			sv.cache.invalidateAll()
		} else {
			users := make([]string, len(d.Users))
			for i, u := range d.Users {
				users[i] = u.ID
			}
			sv.cache.invalidate(users)
		}
	}
	sv.deltas.Add(1)
	sv.lastSeq.Store(d.Seq)
	s.metrics.deltas.Inc()
	if d.NewestEventMillis > 0 {
		s.metrics.freshness.Observe(s.now().Sub(time.UnixMilli(d.NewestEventMillis)).Seconds())
	}
}
