package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/services/api/api"
	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// Runner is a service: it runs until ctx ends (nil) or it fails.
type Runner interface {
	Run(ctx context.Context) error
}

// Env is what every target is built from: the process's shared logger and
// registry, and the broker and database addresses, embedded or given.
// Each service reads its own settings (addresses, tokens) from the
// environment with its Config.FromEnv.
type Env struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Brokers is KAFKA_BROKERS or the embedded broker's address.
	Brokers []string
	// NATSURL is NATS_URL or the embedded server's URL.
	NATSURL string
	// DatabaseURL is DATABASE_URL; empty means an embedded store.
	DatabaseURL string
	// DataDir is SWIPEFLIX_DATA_DIR (default ./var).
	DataDir string
	// CatalogDir is the starter dataset's folder, whose movies the trainer
	// loads into the catalog unless SWIPEFLIX_CATALOG_DIR names another.
	CatalogDir string
}

// target is one service the binary can run.
type target struct {
	name  string
	build func(Env) (Runner, error)
}

// targets are the services, in start order. To add one: write its build
// function below and add its line here.
var targets = []target{
	{"ingest", buildIngest},
	{"trainer", buildTrainer},
	{"api", buildAPI},
	{"drift", buildDrift},
}

func buildIngest(e Env) (Runner, error) {
	cfg := ingest.DefaultConfig()
	if err := cfg.FromEnv(); err != nil {
		return nil, err
	}
	cfg.Brokers = e.Brokers
	if os.Getenv("INGEST_CORS_ORIGINS") == "" {
		cfg.CORSOrigins = pageOrigins() // the api's page posts swipes here (deckwiring.go)
	}
	return ingest.New(cfg, ingest.Deps{Logger: e.Logger, Registerer: e.Registry, Gatherer: e.Registry})
}

func buildDrift(e Env) (Runner, error) {
	cfg := driftsvc.DefaultConfig()
	if err := cfg.FromEnv(); err != nil {
		return nil, err
	}
	cfg.Brokers, cfg.NATSURL = e.Brokers, e.NATSURL
	return driftsvc.New(cfg, driftsvc.Deps{Logger: e.Logger, Registerer: e.Registry, Gatherer: e.Registry})
}

func buildTrainer(e Env) (Runner, error) {
	cfg := trainer.DefaultConfig()
	if err := cfg.FromEnv(os.Getenv); err != nil {
		return nil, err
	}
	cfg.Brokers, cfg.NATSURL, cfg.DatabaseURL, cfg.DataDir = e.Brokers, e.NATSURL, e.DatabaseURL, e.DataDir
	if cfg.CatalogDir == "" {
		cfg.CatalogDir = e.CatalogDir
	}
	return trainer.New(cfg, trainer.Deps{Logger: e.Logger, Registerer: e.Registry, Gatherer: e.Registry})
}

func buildAPI(e Env) (Runner, error) {
	cfg := api.DefaultConfig()
	if err := cfg.FromEnv(); err != nil {
		return nil, err
	}
	cfg.NATSURL = e.NATSURL
	if os.Getenv("API_INGEST_URL") == "" {
		cfg.Deck.IngestURL = pageIngestURL() // where the page sends swipes (deckwiring.go)
	}
	return api.New(cfg, api.Deps{Logger: e.Logger, Registerer: e.Registry, Gatherer: e.Registry})
}
