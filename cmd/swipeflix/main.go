// Command swipeflix is the one SwipeFlix binary. Without a subcommand (or
// with run) it runs a set of modules in one process: -target all (every
// service), a service (ingest, trainer, api, drift), an infrastructure
// module (kafka, nats, store, ...) or a comma list; each target starts the
// modules it needs and nothing else, on embedded brokers unless
// KAFKA_BROKERS / NATS_URL point elsewhere. Its client subcommands publish
// datasets or events, watch models and drift reports, evaluate, train, and
// manage the store.
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

// realMain dispatches to a subcommand; running modules is the default when
// the first argument is a flag or there is none.
func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runServices(ctx, nil, stderr)
	}
	switch args[0] {
	case "run":
		return runServices(ctx, args[1:], stderr)
	case "publish":
		return runPublish(ctx, args[1:], stdin, stderr)
	case "watch":
		return runWatch(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(args[1:], stdout, stderr)
	case "train":
		return runTrain(ctx, args[1:], stdout, stderr)
	case "generate":
		return runGenerate(ctx, args[1:], stdout, stderr)
	case "bench-scale":
		return runBenchScale(ctx, args[1:], stdout, stderr)
	case "bench-predict":
		return runBenchPredict(ctx, args[1:], stdout, stderr)
	case "migrate":
		return storecli.Migrate(ctx, args[1:], stdout, os.Getenv)
	case "catalog":
		return storecli.Catalog(ctx, args[1:], stdout, os.Getenv)
	case "models":
		return storecli.Models(ctx, args[1:], stdout, os.Getenv)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "swipeflix", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if args[0] != "" && args[0][0] == '-' {
		return runServices(ctx, args, stderr)
	}
	return svcmain.Usagef(usage, "unknown subcommand %q", args[0])
}

const usage = `usage:
  swipeflix [run] [-target all|ingest|trainer|api|drift|kafka|nats|...] [-starter auto|DIR|FILE]
                                                   run modules (default: all) in one process; -h lists every setting
  swipeflix publish [-rate N] [-ndjson] FILE|-     stream a dataset file or NDJSON events into Kafka
  swipeflix watch [-json]                          print model updates and drift reports
  swipeflix eval [-data DIR] [-json] [-protocol P] the evaluation table
  swipeflix train [-data DIR]                      fit on a dataset folder and publish the next model version
  swipeflix generate -ratings N [-users U -movies M -seed S] -out DIR
                                                   write a seeded synthetic dataset in the MovieLens CSV layout
  swipeflix bench-scale [-size 1M|10M|25M] [-json] the whole loop at scale on embedded brokers, one table
  swipeflix bench-predict [-rates 0,1000] [-movies N] [-json]  uncached /predict latency while user deltas (with N new movies each) arrive, one table
  swipeflix migrate                                apply the store's schema migrations (DATABASE_URL or embedded)
  swipeflix catalog load DIR | get ID              load MovieLens movies into the catalog, or show one
  swipeflix models list|current|get|history|promote|rollback   the model registry (admin token for changes)
  swipeflix version | -version

Settings are flags or environment variables (KAFKA_BROKERS, NATS_URL, DATABASE_URL, SWIPEFLIX_DATA_DIR,
API_ADDR, ...; swipeflix run -h lists them all with their defaults). The client commands find the
brokers and services a running 'make run' chose in SWIPEFLIX_DATA_DIR/endpoints.json (var/ by default).
`
