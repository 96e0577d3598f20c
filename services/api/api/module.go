package api

import (
	"context"

	"github.com/swipeflix/swipeflix/pkg/modules"
)

// Name is the api's module and target name.
const Name = "api"

// Module is the api as a module of the process's graph: it serves the
// models of module bus (the process's one NATS connection), with the
// settings in cfg (read when the module is built) and its own metrics
// registry.
func Module(cfg *Config) modules.Module {
	return modules.Module{Name: Name, Deps: []string{modules.Bus}, IsService: true,
		Check: func() error { return cfg.Validate() },
		Init: func(_ context.Context, g *modules.Graph) (modules.Service, error) {
			reg := g.Registry()
			return New(*cfg, Deps{Logger: g.Logger(), Registerer: reg, Gatherer: reg, Source: g.Bus()})
		}}
}

// Standalone runs the api module alone, on a fresh config each call: the
// api command's body.
var Standalone = modules.Standalone(DefaultConfig, (*Config).RegisterSettings, Module)
