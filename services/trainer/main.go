// Command trainer runs the SwipeFlix trainer alone (the swipeflix binary
// runs it as one target among others). Settings come from flags,
// overridden by environment variables (KAFKA_BROKERS, NATS_URL,
// DATABASE_URL, SWIPEFLIX_*).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "trainer:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	cfg := trainer.DefaultConfig()
	fs := flag.NewFlagSet("trainer", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.FromEnv(os.Getenv); err != nil {
		return err
	}
	svc, err := trainer.New(cfg, trainer.Deps{Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
