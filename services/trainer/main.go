// Command trainer runs the SwipeFlix trainer alone, built by the same
// module graph as the swipeflix binary's -target trainer. Settings are
// flags or environment variables (TRAINER_ADDR, KAFKA_BROKERS, NATS_URL,
// DATABASE_URL, ...; -h lists them); SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/swipeflix/swipeflix/pkg/modules"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main(trainer.Name, version, realMain) }

func realMain(ctx context.Context, args []string, log *slog.Logger) error {
	cfg := trainer.DefaultConfig()
	return modules.RunService(ctx, args, log, os.Stderr, cfg.RegisterSettings, trainer.Module(&cfg))
}
