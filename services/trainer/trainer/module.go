package trainer

import (
	"context"

	"github.com/swipeflix/swipeflix/pkg/modules"
)

// Name is the trainer's module and target name.
const Name = "trainer"

// Module is the trainer as a module of the process's graph: it reads the
// brokers of module kafka, publishes on module bus, registers models in
// module store and reads movies from module catalog, with the settings in
// cfg (read when the module is built) and its own metrics registry.
func Module(cfg *Config) modules.Module {
	return modules.Module{Name: Name, Deps: []string{modules.Kafka, modules.Bus, modules.Store, modules.Catalog},
		IsService: true,
		Check: func() error {
			c := *cfg
			c.Brokers, c.DataDir = []string{"from module kafka"}, "from the graph"
			return c.Validate()
		},
		Init: func(_ context.Context, g *modules.Graph) (modules.Service, error) {
			c := *cfg
			infra := g.Config()
			c.Brokers, c.DataDir, c.MaxClockSkew = g.Brokers(), infra.DataDir, infra.MaxClockSkew
			reg := g.Registry()
			return New(c, Deps{Logger: g.Logger(), Registerer: reg, Gatherer: reg,
				Bus: g.Bus(), Registry: g.Store(), Catalog: g.Catalog()})
		}}
}

// Standalone runs the trainer module alone, on a fresh config each call: the
// trainer command's body.
var Standalone = modules.Standalone(DefaultConfig, (*Config).RegisterSettings, Module)
