// Package modules is the module graph every SwipeFlix process is built
// from, after grafana/loki's pkg/loki/modules.go. The infrastructure
// modules live here: kafka (an embedded Kafka-protocol broker, or the
// brokers KAFKA_BROKERS names), nats (an embedded NATS server, or
// NATS_URL), bus (the one NATS connection of the process and the model
// bus on it), store (PostgreSQL or the embedded SQLite file) and catalog
// (the movie catalog, loaded from a folder into the store). Each service
// package declares its own module with the modules it needs; a target
// starts its module's dependencies and nothing else, and every module is
// built once per process and shared.
//
// The one binary (cmd/swipeflix) registers all four services;
// services/<name>/main.go registers one. Both run the same graph.
package modules

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// Names of the infrastructure modules.
const (
	Kafka   = "kafka"
	NATS    = "nats"
	Bus     = "bus"
	Store   = "store"
	Catalog = "catalog"
	// All is the target of every service module.
	All = "all"
)

// Service is a module's long-running part: it runs until ctx ends (nil) or
// it fails.
type Service interface {
	Run(ctx context.Context) error
}

// Module is one node of the graph.
type Module struct {
	Name string
	// Deps are the modules this one uses; they are built first.
	Deps []string
	// Init builds the module from the graph's settings and its
	// dependencies' instances (through the Graph's accessors). It returns
	// the module's service, or nil for a module that only provides an
	// instance to others. Resources it opens are closed through
	// Graph.OnClose.
	Init func(ctx context.Context, g *Graph) (Service, error)
	// Check, when set, validates the module's settings. Start checks
	// every module of a target before it builds any, so a bad setting
	// starts nothing.
	Check func() error
	// IsService marks the modules the "all" target runs.
	IsService bool
}

// Graph registers modules, builds a target's modules in dependency order,
// runs their services under one supervisor and closes what they opened in
// reverse order.
type Graph struct {
	cfg     Config
	log     *slog.Logger
	out     io.Writer
	modules map[string]Module
	order   []string // registration order, for "all"
	closers []func()

	instances
	registries  []*prometheus.Registry
	processDone bool
}

// New returns a graph with the infrastructure modules registered, on
// settings cfg, logging to log and printing what it starts (the broker
// addresses) to out.
func New(cfg Config, log *slog.Logger, out io.Writer) *Graph {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if out == nil {
		out = io.Discard
	}
	g := &Graph{cfg: cfg, log: log, out: out, modules: map[string]Module{}}
	g.Register(Module{Name: Kafka, Init: initKafka})
	g.Register(Module{Name: NATS, Init: initNATS})
	g.Register(Module{Name: Bus, Deps: []string{NATS}, Init: initBus})
	g.Register(Module{Name: Store, Init: initStore})
	g.Register(Module{Name: Catalog, Deps: []string{Store}, Init: initCatalog})
	return g
}

// Register adds m; a later module of the same name replaces it.
func (g *Graph) Register(m Module) {
	if _, ok := g.modules[m.Name]; !ok {
		g.order = append(g.order, m.Name)
	}
	g.modules[m.Name] = m
}

// Config is the graph's infrastructure settings.
func (g *Graph) Config() Config { return g.cfg }

// Logger is the process's logger.
func (g *Graph) Logger() *slog.Logger { return g.log }

// Services are the names of the registered service modules, in
// registration order.
func (g *Graph) Services() []string {
	var out []string
	for _, n := range g.order {
		if g.modules[n].IsService {
			out = append(out, n)
		}
	}
	return out
}

// Names are every registered module's name, in registration order.
func (g *Graph) Names() []string { return slices.Clone(g.order) }

// Resolve returns the modules targets need, dependencies first, each once.
// "all" stands for every service module. An unknown name is an error that
// lists the known ones.
func (g *Graph) Resolve(targets ...string) ([]string, error) {
	var out []string
	seen := map[string]int{} // 1: visiting, 2: done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch seen[name] {
		case 1:
			return fmt.Errorf("module %s: dependency cycle through %s", name, from)
		case 2:
			return nil
		}
		m, ok := g.modules[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("module %s needs %q, which is not registered", from, name)
			}
			return fmt.Errorf("unknown target %q (have all, %s)", name, strings.Join(g.order, ", "))
		}
		seen[name] = 1
		for _, d := range m.Deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		seen[name] = 2
		out = append(out, name)
		return nil
	}
	for _, t := range targets {
		t = strings.TrimSpace(t)
		names := []string{t}
		if t == All {
			names = g.Services()
		}
		for _, n := range names {
			if err := visit(n, ""); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no target given (have all, %s)", strings.Join(g.order, ", "))
	}
	return out, nil
}

// Started is a graph whose target modules are built and ready to run.
type Started struct {
	g        *Graph
	names    []string
	services []namedService
}

type namedService struct {
	name string
	svc  Service
}

// Modules are the built modules, dependencies first.
func (s *Started) Modules() []string { return s.names }

// Start builds targets' modules in dependency order. On an error it closes
// what it had opened.
func (g *Graph) Start(ctx context.Context, targets ...string) (*Started, error) {
	names, err := g.Resolve(targets...)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, n := range names {
		if check := g.modules[n].Check; check != nil {
			if err := check(); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", n, err))
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	st := &Started{g: g, names: names}
	for _, n := range names {
		svc, err := g.modules[n].Init(ctx, g)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("start %s: %w", n, err)
		}
		if svc != nil {
			st.services = append(st.services, namedService{n, svc})
		}
	}
	return st, nil
}

// Run runs the started services and extra one-shot or long-running tasks
// under one supervisor until ctx ends or one fails (a failure in one stops
// all), then closes what the modules opened. With no service to run (a
// target such as kafka alone), it serves until ctx ends.
func (s *Started) Run(ctx context.Context, extra ...Task) error {
	defer s.g.Close()
	grp, gctx := svcmain.NewGroup(ctx)
	for _, ns := range s.services {
		grp.Go(ns.name, ns.svc.Run)
	}
	for _, t := range extra {
		grp.Go(t.Name, t.Run)
	}
	if len(s.services) == 0 && len(extra) == 0 {
		grp.Go("idle", func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	s.g.log.Info("swipeflix running", "modules", strings.Join(s.names, ","))
	<-gctx.Done()
	return grp.Wait()
}

// Task is an extra job Run supervises beside the modules' services (the
// starter-data load of `make run`); it may return svcmain.ErrDone.
type Task struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run builds targets and runs them: Start then Started.Run.
func (g *Graph) Run(ctx context.Context, targets ...string) error {
	st, err := g.Start(ctx, targets...)
	if err != nil {
		return err
	}
	return st.Run(ctx)
}

// OnClose registers fn to run when the graph closes, after every service
// stopped, in reverse order of registration.
func (g *Graph) OnClose(fn func()) { g.closers = append(g.closers, fn) }

// Close runs the close functions in reverse order, once.
func (g *Graph) Close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
	g.closers = nil
}

// Registry returns a fresh metrics registry for one service module: each
// service's port serves its own series, so that scraping every port of a
// one-binary process counts nothing twice. The first registry handed out
// also carries the process-wide Go and process collectors.
func (g *Graph) Registry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	if !g.processDone {
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		g.processDone = true
	}
	g.registries = append(g.registries, r)
	return r
}

// Standalone is the work of a service's thin main: each call takes a
// fresh config from defaults and hands RunService the config's settings
// (register) and its module. Each service package declares
//
//	var Standalone = modules.Standalone(DefaultConfig, (*Config).RegisterSettings, Module)
//
// beside its Module, and its main hands that to svcmain.Main.
func Standalone[C any](defaults func() C, register func(*C, *envconfig.Settings), module func(*C) Module) svcmain.Func {
	return func(ctx context.Context, args []string, log *slog.Logger) error {
		cfg := defaults()
		settings := func(s *envconfig.Settings) { register(&cfg, s) }
		return RunService(ctx, args, log, os.Stderr, settings, module(&cfg))
	}
}

// RunService is the body of a service's thin main: it declares the
// infrastructure's settings and the service's own (register), parses args
// and the environment, and runs the graph with m as the only target, so a
// service alone is built exactly as in the one binary.
func RunService(ctx context.Context, args []string, log *slog.Logger, out io.Writer,
	register func(*envconfig.Settings), m Module) error {
	infra := DefaultConfig()
	fs := flag.NewFlagSet(m.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	s := envconfig.NewSettings(fs, os.Getenv)
	infra.RegisterSettings(s)
	register(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := infra.Validate(); err != nil {
		return err
	}
	g := New(infra, log, out)
	g.Register(m)
	return g.Run(ctx, m.Name)
}
