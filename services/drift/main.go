// Command drift runs the SwipeFlix drift service alone (the swipeflix
// binary runs it as one target among others). Settings come from flags,
// overridden by environment variables (KAFKA_BROKERS, NATS_URL, DRIFT_*).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "drift:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	cfg := driftsvc.DefaultConfig()
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	movies := fs.String("movies", os.Getenv("DRIFT_MOVIES_FILE"), "MovieLens movies file for the genre_mix feature (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.FromEnv(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	deps := driftsvc.Deps{Logger: log}
	if *movies != "" {
		g, err := driftsvc.LoadGenres(*movies)
		if err != nil {
			return err
		}
		deps.Genres = g
	}
	svc, err := driftsvc.New(cfg, deps)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
