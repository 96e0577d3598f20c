// Command swipeflix is the one SwipeFlix binary. Without a subcommand it
// runs a set of services in one process (-target all|ingest|drift|...,
// comma-separated), on embedded brokers unless KAFKA_BROKERS / NATS_URL
// point elsewhere. Its client subcommands are publish (a dataset file or
// NDJSON events into Kafka) and watch (model updates and drift reports).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/swipeflix/swipeflix/pkg/store/storecli"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := svcmain.SignalContext()
	err := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(svcmain.ExitCode(os.Stderr, "swipeflix", err))
}

// realMain dispatches to a subcommand; the default is running services.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "publish":
			return runPublish(ctx, args[1:], stdin, stderr)
		case "watch":
			return runWatch(ctx, args[1:], stdout)
		case "eval":
			return runEval(args[1:], stdout, stderr)
		case "train":
			return runTrain(ctx, args[1:], stdout, stderr)
		case "migrate":
			return storecli.Migrate(ctx, args[1:], stdout, os.Getenv)
		case "catalog":
			return storecli.Catalog(ctx, args[1:], stdout, os.Getenv)
		case "models":
			return storecli.Models(ctx, args[1:], stdout, os.Getenv)
		case "run":
			args = args[1:]
		case "version":
			fmt.Fprintln(stdout, "swipeflix", version)
			return nil
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return runServices(ctx, args, stderr)
}

const usage = `usage:
  swipeflix [run] [-target all|ingest|drift|...]   run services (default: all) in one process
  swipeflix publish [-rate N] [-ndjson] FILE|-     stream a dataset file or NDJSON events into Kafka
  swipeflix watch [-json]                          print model updates and drift reports
  swipeflix eval [-data DIR] [-json] [-protocol P] the evaluation table (random, popularity, als, puresvd, hybrid)
  swipeflix train [-data DIR]                      fit on a dataset folder and publish the next model version
  swipeflix migrate                                apply the store's schema migrations (DATABASE_URL or embedded)
  swipeflix catalog load DIR | get ID              load MovieLens movies into the catalog, or show one
  swipeflix models list|current|get|history|promote|rollback   the model registry (admin token for changes)
  swipeflix version

environment: KAFKA_BROKERS, NATS_URL (unset: embedded brokers on SWIPEFLIX_KAFKA_PORT 9092,
SWIPEFLIX_NATS_PORT 4222, or free ports when taken), DATABASE_URL, SWIPEFLIX_DATA_DIR (./var),
API_ADDR (:8000), INGEST_ADDR (:8001), TRAINER_ADDR (:8002), DRIFT_ADDR (:8003),
SWIPEFLIX_INGEST_TOKENS, SWIPEFLIX_ADMIN_TOKEN, SWIPEFLIX_LOG_LEVEL (info)
`
