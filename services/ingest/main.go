// Command ingest runs the SwipeFlix ingest service alone (the swipeflix
// binary runs it as one target among others). Settings come from flags,
// overridden by environment variables (INGEST_ADDR, KAFKA_BROKERS,
// SWIPEFLIX_INGEST_TOKENS, ...); SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"context"
	"log/slog"

	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main("ingest", version, run) }

func run(ctx context.Context, args []string, log *slog.Logger) error {
	cfg := ingest.DefaultConfig()
	if err := svcmain.Configure("ingest", args, cfg.RegisterFlags, cfg.FromEnv); err != nil {
		return err
	}
	svc, err := ingest.New(cfg, ingest.Deps{Logger: log})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
