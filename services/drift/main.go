// Command drift runs the SwipeFlix drift service alone (the swipeflix
// binary runs it as one target among others). Settings come from flags,
// overridden by environment variables (KAFKA_BROKERS, NATS_URL, DRIFT_*);
// reports are stored in PostgreSQL when DATABASE_URL is set, else in the
// embedded store under SWIPEFLIX_DATA_DIR.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swipeflix/swipeflix/pkg/store"
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
	movies := fs.String("movies", os.Getenv("DRIFT_MOVIES_FILE"),
		"MovieLens movies file for genre_mix (default: the store's catalog)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.FromEnv(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	st, err := store.Open(ctx, store.ConfigFromEnv(os.Getenv))
	if err != nil {
		return err
	}
	defer st.Close()
	deps := driftsvc.Deps{Logger: log, Store: driftsvc.SQLReports{DB: st}}
	if *movies != "" {
		deps.Genres, err = driftsvc.LoadGenres(*movies)
	} else {
		deps.Genres, err = driftsvc.CatalogGenres(ctx, st)
	}
	if err != nil {
		return err
	}
	svc, err := driftsvc.New(cfg, deps)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
