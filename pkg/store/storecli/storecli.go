// Package storecli implements the store's client commands, so the
// `swipeflix` binary only dispatches to them:
//
//	swipeflix migrate                    apply pending schema migrations
//	swipeflix catalog load DIR           load a MovieLens-format catalog
//	swipeflix catalog get ID             print one movie
//	swipeflix models list|current|get|history|promote|rollback
//
// migrate and catalog talk to the database (DATABASE_URL, or the embedded
// store under SWIPEFLIX_DATA_DIR); models talks to the trainer's admin API
// (SWIPEFLIX_TRAINER_URL, default http://127.0.0.1:8002, with
// SWIPEFLIX_ADMIN_TOKEN), because a promotion or rollback must also
// republish the current model on NATS.
package storecli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/admin"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// DefaultTrainerURL is where models commands find the admin API.
const DefaultTrainerURL = "http://127.0.0.1:8002"

func storeFlags(fs *flag.FlagSet, getenv func(string) string) func() store.Config {
	cfg := store.ConfigFromEnv(getenv)
	url := fs.String("database-url", cfg.DatabaseURL, "PostgreSQL URL (default $DATABASE_URL; empty: embedded store)")
	dir := fs.String("data-dir", filepath.Dir(cfg.Path), "embedded store directory (default $SWIPEFLIX_DATA_DIR or ./var)")
	return func() store.Config {
		return store.Config{DatabaseURL: *url, Path: filepath.Join(*dir, store.EmbeddedFile)}
	}
}

// parse parses flags wherever they stand (`promote 7 -reason x` as well as
// `promote -reason x 7`) and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(stdout)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// Migrate is `swipeflix migrate`: it applies pending migrations and prints
// what it did.
func Migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg := storeFlags(fs, getenv)
	if pos, err := parse(fs, args, stdout); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", pos[0])
	}
	c := cfg()
	c.SkipMigrate = true
	s, err := store.Open(ctx, c)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer s.Close()
	n, err := s.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "%s store: applied %d migrations, schema version %d\n", s.Dialect(), n, v)
	return nil
}

// CatalogUsage is the usage of `swipeflix catalog`.
const CatalogUsage = `usage:
  swipeflix catalog load [flags] DIR   load the movies (and tags) of a MovieLens-format folder into the catalog
  swipeflix catalog get [flags] ID     print one movie as JSON
flags: -database-url URL (default $DATABASE_URL; empty: the embedded store), -data-dir DIR (default $SWIPEFLIX_DATA_DIR or ./var)
`

// isHelp reports whether arg asks for the usage.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// usageError is a command line that does not parse: the caller prints the
// usage and exits 2.
func usageError(usage, format string, args ...any) error {
	return &svcmain.UsageError{Err: fmt.Errorf(format, args...), Usage: usage}
}

// Catalog is `swipeflix catalog load|get`.
func Catalog(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError(CatalogUsage, "catalog: want a subcommand: load DIR | get ID")
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, CatalogUsage)
		return nil
	}
	fs := flag.NewFlagSet("catalog "+args[0], flag.ContinueOnError)
	cfg := storeFlags(fs, getenv)
	switch args[0] {
	case "load":
		data := fs.String("data", "", "MovieLens-format folder, the same as the DIR argument")
		pos, err := parse(fs, args[1:], stdout)
		if err != nil {
			return err
		}
		switch {
		case len(pos) == 1 && *data == "":
			*data = pos[0]
		case len(pos) > 1 || (len(pos) == 1 && *data != ""):
			return usageError(CatalogUsage, "catalog load: want one folder, got %q", pos)
		case *data == "":
			return usageError(CatalogUsage, "catalog load: want a folder: swipeflix catalog load DIR")
		}
		s, err := store.Open(ctx, cfg())
		if err != nil {
			return fmt.Errorf("catalog load: %w", err)
		}
		defer s.Close()
		start := time.Now()
		n, err := s.LoadCatalog(ctx, *data)
		if err != nil {
			return fmt.Errorf("catalog load: %w", err)
		}
		fmt.Fprintf(stdout, "loaded %d movies into the %s store in %s\n", n, s.Dialect(), time.Since(start).Round(time.Millisecond))
		return nil
	case "get":
		pos, err := parse(fs, args[1:], stdout)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(CatalogUsage, "catalog get: want one movie id")
		}
		s, err := store.Open(ctx, cfg())
		if err != nil {
			return fmt.Errorf("catalog get: %w", err)
		}
		defer s.Close()
		m, err := s.Movie(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("catalog get: %w", err)
		}
		return printJSON(stdout, m)
	}
	return usageError(CatalogUsage, "catalog: unknown subcommand %q (want load or get)", args[0])
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ModelsUsage is the usage of `swipeflix models`.
const ModelsUsage = `usage:
  swipeflix models list [-stage S] [-limit N]     the registry, newest first
  swipeflix models current                       the production model
  swipeflix models get V | history V             one model, or its stage changes
  swipeflix models promote V [-by WHO] [-reason WHY]   make V production (admin token)
  swipeflix models rollback [-by WHO] [-reason WHY]    back to the previous production model (admin token)
flags: -addr URL (default $SWIPEFLIX_TRAINER_URL, else the trainer 'make run' started (SWIPEFLIX_DATA_DIR/endpoints.json),
else http://127.0.0.1:8002), -json; the admin token is $SWIPEFLIX_ADMIN_TOKEN
`

// Models is `swipeflix models ...`, a client of the trainer's admin API.
func Models(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError(ModelsUsage, "models: want a subcommand: list | current | get V | history V | promote V | rollback")
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, ModelsUsage)
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("models "+sub, flag.ContinueOnError)
	dir := getenv("SWIPEFLIX_DATA_DIR")
	if dir == "" {
		dir = "var"
	}
	e, _ := endpoints.Read(dir)
	base := endpoints.Pick(getenv("SWIPEFLIX_TRAINER_URL"), e.Trainer, DefaultTrainerURL)
	addr := fs.String("addr", base, "trainer admin URL")
	asJSON := fs.Bool("json", false, "print JSON")
	user := getenv("USER")
	if user == "" {
		user = "cli"
	}
	var by, reason *string
	var stage *string
	var limit *int
	switch sub {
	case "promote", "rollback":
		by = fs.String("by", user, "who asks (default $USER)")
		reason = fs.String("reason", "", "why, kept with the model")
	case "list":
		stage = fs.String("stage", "", "candidate, production or archived (default all)")
		limit = fs.Int("limit", 20, "at most this many, newest first")
	}
	pos, err := parse(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	if (sub == "list" || sub == "current" || sub == "rollback") && len(pos) > 0 {
		return usageError(ModelsUsage, "models %s: unexpected argument %q", sub, pos[0])
	}
	c := &admin.Client{BaseURL: *addr, Token: getenv("SWIPEFLIX_ADMIN_TOKEN")}
	versionArg := func() (int64, error) {
		if len(pos) != 1 {
			return 0, fmt.Errorf("models %s: want one version", sub)
		}
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("models %s: version: want a positive integer, got %q", sub, pos[0])
		}
		return v, nil
	}
	var recs []store.ModelRecord
	switch sub {
	case "list":
		recs, err = c.List(ctx, store.Stage(*stage), *limit)
	case "current":
		var r store.ModelRecord
		r, err = c.Current(ctx)
		recs = []store.ModelRecord{r}
	case "get", "history", "promote":
		var v int64
		if v, err = versionArg(); err != nil {
			return err
		}
		switch sub {
		case "get":
			var r store.ModelRecord
			r, err = c.Get(ctx, v)
			recs = []store.ModelRecord{r}
		case "history":
			var h []store.StageChange
			if h, err = c.History(ctx, v); err != nil {
				return fmt.Errorf("models history: %w", err)
			}
			return printHistory(stdout, h, *asJSON)
		case "promote":
			var r store.ModelRecord
			r, err = c.Promote(ctx, v, *by, *reason)
			if err == nil || errors.Is(err, admin.ErrPublish) {
				fmt.Fprintf(stdout, "model %d is production\n", r.Version)
			}
			recs = []store.ModelRecord{r}
		}
	case "rollback":
		var r store.ModelRecord
		r, err = c.Rollback(ctx, *by, *reason)
		if err == nil || errors.Is(err, admin.ErrPublish) {
			fmt.Fprintf(stdout, "rolled back: model %d is production\n", r.Version)
		}
		recs = []store.ModelRecord{r}
	default:
		return usageError(ModelsUsage, "models: unknown subcommand %q", sub)
	}
	if err != nil {
		return fmt.Errorf("models %s: %w", sub, err)
	}
	if *asJSON {
		if sub == "list" {
			return printJSON(stdout, recs)
		}
		return printJSON(stdout, recs[0])
	}
	return printModels(stdout, recs)
}

func printModels(w io.Writer, recs []store.ModelRecord) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTAGE\tCREATED\tOBJECT\tSIZE\tPROMOTED BY\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Version, r.Stage, r.CreatedAt.Format(time.RFC3339),
			r.ObjectName, r.Size, r.PromotedBy, r.Reason)
	}
	return tw.Flush()
}

func printHistory(w io.Writer, h []store.StageChange, asJSON bool) error {
	if asJSON {
		return printJSON(w, h)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tFROM\tTO\tBY\tREASON")
	for _, c := range h {
		from := string(c.From)
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.At.Format(time.RFC3339), from, c.To, c.Actor, c.Reason)
	}
	return tw.Flush()
}
