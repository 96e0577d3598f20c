package driftsvc

import (
	"context"

	"github.com/swipeflix/swipeflix/pkg/modules"
)

// Name is the drift service's module and target name.
const Name = "drift"

// Module is the drift service as a module of the process's graph: it
// consumes the brokers of module kafka, publishes on the NATS server of
// module nats, keeps its reports in module store and reads genres from
// module catalog, with the settings in cfg (read when the module is built)
// and its own metrics registry.
func Module(cfg *Config) modules.Module {
	return modules.Module{Name: Name, Deps: []string{modules.Kafka, modules.Bus, modules.Store, modules.Catalog},
		IsService: true,
		Check: func() error {
			c := *cfg
			c.Brokers, c.NATSURL = []string{"from module kafka"}, "from module nats"
			return c.Validate()
		},
		Init: func(_ context.Context, g *modules.Graph) (modules.Service, error) {
			c := *cfg
			c.Brokers, c.NATSURL, c.MaxClockSkew = g.Brokers(), g.NATSURL(), g.Config().MaxClockSkew
			reg := g.Registry()
			bus := g.Bus()
			return New(c, Deps{Logger: g.Logger(), Registerer: reg, Gatherer: reg,
				Store: SQLReports{DB: g.Store()}, Genres: g.Catalog(), NATS: bus.Conn(), Bus: bus})
		}}
}

// Standalone runs the drift module alone, on a fresh config each call: the
// drift command's body.
var Standalone = modules.Standalone(DefaultConfig, (*Config).RegisterSettings, Module)
