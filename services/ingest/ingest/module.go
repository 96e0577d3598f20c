package ingest

import (
	"context"

	"github.com/swipeflix/swipeflix/pkg/modules"
)

// Name is the ingest service's module and target name.
const Name = "ingest"

// Module is the ingest service as a module of the process's graph: it
// writes to the Kafka brokers of module kafka, with the settings in cfg
// (read when the module is built) and its own metrics registry.
func Module(cfg *Config) modules.Module {
	return modules.Module{Name: Name, Deps: []string{modules.Kafka}, IsService: true,
		Check: func() error {
			c := *cfg
			c.Brokers = []string{"from module kafka"}
			return c.Validate()
		},
		Init: func(_ context.Context, g *modules.Graph) (modules.Service, error) {
			c := *cfg
			c.Brokers, c.MaxClockSkew = g.Brokers(), g.Config().MaxClockSkew
			reg := g.Registry()
			return New(c, Deps{Logger: g.Logger(), Registerer: reg, Gatherer: reg})
		}}
}

// Standalone runs the ingest module alone, on a fresh config each call: the
// ingest command's body.
var Standalone = modules.Standalone(DefaultConfig, (*Config).RegisterSettings, Module)
