package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/modules"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/api/api"
	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// Config is the one binary's configuration: the infrastructure's and every
// service's, each setting declared once with its flag and variable.
type Config struct {
	// Target is the comma list of modules to run ("all": every service).
	Target string
	// Starter is a ratings file or dataset folder published once at
	// start, or "auto" (see resolveStarter).
	Starter string
	Infra   modules.Config
	Ingest  ingest.Config
	Trainer trainer.Config
	API     api.Config
	Drift   driftsvc.Config
}

// DefaultConfig is `make run` without flags.
func DefaultConfig() Config {
	return Config{Target: modules.All, Infra: modules.DefaultConfig(), Ingest: ingest.DefaultConfig(),
		Trainer: trainer.DefaultConfig(), API: api.DefaultConfig(), Drift: driftsvc.DefaultConfig()}
}

// RegisterSettings declares every setting on s.
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.Target, "target", "SWIPEFLIX_TARGET", "comma-separated modules to run: all, a service (ingest, trainer, api, drift) or a module (kafka, nats, bus, store, catalog)")
	s.String(&c.Starter, "starter", "SWIPEFLIX_STARTER_RATINGS", "ratings file or dataset folder to publish once at start, or \"auto\": "+
		"../shared/datasets/ml-latest-small when present, else generated sample data")
	c.Infra.RegisterSettings(s)
	c.Ingest.RegisterSettings(s)
	c.Trainer.RegisterSettings(s)
	c.API.RegisterSettings(s)
	c.Drift.RegisterSettings(s)
}

// graph registers every service module on the infrastructure of c.
func (c *Config) graph(log *slog.Logger, out io.Writer) *modules.Graph {
	g := modules.New(c.Infra, log, out)
	g.Register(api.Module(&c.API))
	g.Register(ingest.Module(&c.Ingest))
	g.Register(trainer.Module(&c.Trainer))
	g.Register(driftsvc.Module(&c.Drift))
	return g
}

// runServices is the default command: it builds the -target modules of the
// graph, writes the endpoints file, and runs them (with the starter-data
// load, when asked) until ctx ends or one fails.
func runServices(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("swipeflix run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nsettings of swipeflix run (flag, [$VARIABLE], default):\n")
		fs.PrintDefaults()
	}
	s := envconfig.NewSettings(fs, os.Getenv)
	cfg.RegisterSettings(s)
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &svcmain.UsageError{Err: err} // the flag set printed the usage
	}
	if fs.NArg() > 0 {
		return svcmain.Usagef(usage, "unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.Infra.Validate(); err != nil {
		return err
	}
	cfg.pageDefaults(s)
	log, err := svcmain.NewLogger(stderr, os.Getenv)
	if err != nil {
		return err
	}
	var starterFile string
	if cfg.Starter != "" {
		var catalogDir string
		if starterFile, catalogDir, err = resolveStarter(cfg.Starter, filepath.FromSlash(sharedStarter), cfg.Infra.DataDir); err != nil {
			return err
		}
		if cfg.Infra.CatalogDir == "" {
			cfg.Infra.CatalogDir = catalogDir
		}
	}
	g := cfg.graph(log, stderr)
	targets := strings.Split(cfg.Target, ",")
	if starterFile != "" && !slices.Contains(targets, modules.Kafka) {
		// The starter publishes into Kafka: make sure the module runs.
		targets = append(targets, modules.Kafka)
	}
	started, err := g.Start(ctx, targets...)
	if err != nil {
		return err
	}
	if err := endpoints.Write(cfg.Infra.DataDir, cfg.endpoints(g, started.Modules())); err != nil {
		log.Warn("endpoints file not written", "err", err)
	}
	var tasks []modules.Task
	if starterFile != "" {
		tasks = append(tasks, modules.Task{Name: "starter", Run: starterLoader{path: starterFile, brokers: g.Brokers,
			dataDir: cfg.Infra.DataDir, log: log, out: stderr}.Run})
	}
	err = started.Run(ctx, tasks...)
	if err != nil {
		log.Error("swipeflix stopped", "err", err)
		return err
	}
	log.Info("swipeflix stopped")
	return nil
}

// endpoints are the addresses this process serves, for the client
// commands.
func (c *Config) endpoints(g *modules.Graph, running []string) endpoints.Endpoints {
	var e endpoints.Endpoints
	has := func(m string) bool { return slices.Contains(running, m) }
	if has(modules.Kafka) {
		e.KafkaBrokers = g.Brokers()
	}
	if has(modules.NATS) {
		e.NATSURL = modelbus.Redact(g.NATSURL())
	}
	if has(api.Name) {
		e.API = endpoints.URL(c.API.Addr)
	}
	if has(ingest.Name) {
		e.Ingest = endpoints.URL(c.Ingest.Addr)
	}
	if has(trainer.Name) {
		e.Trainer = endpoints.URL(c.Trainer.Addr)
	}
	if has(driftsvc.Name) {
		e.Drift = endpoints.URL(c.Drift.Addr)
	}
	return e
}

// clientDataDir is where a client command looks for the endpoints file.
func clientDataDir() string {
	return endpoints.Pick(os.Getenv("SWIPEFLIX_DATA_DIR"), modules.DefaultConfig().DataDir)
}
