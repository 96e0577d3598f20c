// Command trainer runs the SwipeFlix trainer alone (the swipeflix binary
// runs it as one target among others). Settings come from flags,
// overridden by environment variables (KAFKA_BROKERS, NATS_URL,
// DATABASE_URL, SWIPEFLIX_*); SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main("trainer", version, realMain) }

func realMain(ctx context.Context, args []string, log *slog.Logger) error {
	cfg := trainer.DefaultConfig()
	if err := svcmain.Configure("trainer", args, cfg.RegisterFlags, func() error { return cfg.FromEnv(os.Getenv) }); err != nil {
		return err
	}
	svc, err := trainer.New(cfg, trainer.Deps{Logger: log})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
