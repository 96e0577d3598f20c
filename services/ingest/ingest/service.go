// Package ingest is the HTTP front door of the event log: it takes rating
// and swipe events (one, a JSON array or NDJSON), validates the whole batch,
// writes it to Kafka keyed by user id and answers 202 only once every
// in-sync replica acknowledged it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// Deps are what the service is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	// Registerer receives the service's metrics; Gatherer serves /metrics.
	// Both default to a fresh registry of the service's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Service is the ingest service. Build it with New and start it with Run.
type Service struct {
	cfg     Config
	log     *slog.Logger
	gather  prometheus.Gatherer
	metrics *metrics
	tokens  tokenSet
	prod    *kafkabus.Producer
	app     *fiber.App
	// inflight bounds the bytes of request bodies being read at once.
	inflight *semaphore.Weighted
}

// New checks cfg and builds the service; nothing connects until Run.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if deps.Registerer, deps.Gatherer, err = telemetry.Registry(deps.Registerer, deps.Gatherer); err != nil {
		return nil, fmt.Errorf("ingest deps: %w", err)
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      cfg,
		log:      deps.Logger.With("service", serviceName),
		gather:   deps.Gatherer,
		metrics:  m,
		tokens:   newTokenSet(cfg.Tokens),
		inflight: semaphore.NewWeighted(cfg.MaxInflightBodyBytes),
		prod: kafkabus.NewProducer(kafkabus.ProducerConfig{
			Brokers: cfg.Brokers,
			Topic:   cfg.Topic,
			Timeout: cfg.KafkaTimeout,
		}),
	}
	s.app = s.newApp()
	return s, nil
}

// App is the service's Fiber app, for in-process tests and embedding.
func (s *Service) App() *fiber.App { return s.app }

// Run serves HTTP on cfg.Addr until ctx ends, then drains in-flight
// requests (up to 10s) and closes the Kafka producer.
func (s *Service) Run(ctx context.Context) error {
	return svcmain.ListenAndServe(ctx, serviceName, s.cfg.Addr, s.Serve)
}

// Serve is Run on a listener the caller opened (tests use port 0).
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("ingest listening", "addr", ln.Addr().String(), "auth", s.tokens.enabled())
	serveErr := svcmain.ServeFiber(ctx, s.app, ln, s.cfg.Limits.ShutdownTimeout)
	if errors.Is(serveErr, svcmain.ErrDrainTimeout) {
		s.log.Warn("ingest shutdown", "err", serveErr)
		serveErr = nil
	}
	if err := s.prod.Close(); err != nil {
		s.log.Warn("close kafka producer", "err", err)
	}
	if serveErr != nil {
		return fmt.Errorf("ingest: %w", serveErr)
	}
	return nil
}
