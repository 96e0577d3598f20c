// Command api runs the SwipeFlix api service alone (the swipeflix binary
// runs it as one target among others). Settings come from flags,
// overridden by environment variables (API_ADDR, NATS_URL, ...).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swipeflix/swipeflix/services/api/api"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	cfg := api.DefaultConfig()
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.FromEnv(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	svc, err := api.New(cfg, api.Deps{Logger: log})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
