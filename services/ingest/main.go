// Command ingest runs the SwipeFlix ingest service alone (the swipeflix
// binary runs it as one target among others). Settings come from flags,
// overridden by environment variables (INGEST_ADDR, KAFKA_BROKERS,
// SWIPEFLIX_INGEST_TOKENS, ...).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	cfg := ingest.DefaultConfig()
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.FromEnv(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	svc, err := ingest.New(cfg, ingest.Deps{Logger: log})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
