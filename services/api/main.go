// Command api runs the SwipeFlix api service alone (the swipeflix binary
// runs it as one target among others). Settings come from flags,
// overridden by environment variables (API_ADDR, NATS_URL, ...);
// SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"context"
	"log/slog"

	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/api/api"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main("api", version, realMain) }

func realMain(ctx context.Context, args []string, log *slog.Logger) error {
	cfg := api.DefaultConfig()
	if err := svcmain.Configure("api", args, cfg.RegisterFlags, cfg.FromEnv); err != nil {
		return err
	}
	svc, err := api.New(cfg, api.Deps{Logger: log})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
