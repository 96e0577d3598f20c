// Command drift runs the SwipeFlix drift service alone (the swipeflix
// binary runs it as one target among others). Settings come from flags,
// overridden by environment variables (KAFKA_BROKERS, NATS_URL, DRIFT_*);
// reports are stored in PostgreSQL when DATABASE_URL is set, else in the
// embedded store under SWIPEFLIX_DATA_DIR. SWIPEFLIX_LOG_LEVEL sets the
// log level.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main("drift", version, realMain) }

func realMain(ctx context.Context, args []string, log *slog.Logger) error {
	cfg := driftsvc.DefaultConfig()
	var movies string
	flags := func(fs *flag.FlagSet) {
		cfg.RegisterFlags(fs)
		fs.StringVar(&movies, "movies", os.Getenv("DRIFT_MOVIES_FILE"),
			"MovieLens movies file for genre_mix (default: the store's catalog)")
	}
	if err := svcmain.Configure("drift", args, flags, cfg.FromEnv); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, err := store.Open(ctx, store.ConfigFromEnv(os.Getenv))
	if err != nil {
		return err
	}
	defer st.Close()
	deps := driftsvc.Deps{Logger: log, Store: driftsvc.SQLReports{DB: st}, Genres: driftsvc.NewStoreCatalog(st)}
	if movies != "" {
		if deps.Genres, err = driftsvc.LoadGenres(movies); err != nil {
			return err
		}
	}
	svc, err := driftsvc.New(cfg, deps)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
