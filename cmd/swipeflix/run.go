package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// runServices starts the embedded brokers that are not given, builds the
// selected targets and runs them until ctx ends or one fails; a failure in
// one stops all. Brokers stop after the services.
func runServices(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("swipeflix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetFlag := fs.String("target", "all", "comma-separated services to run: all or "+strings.Join(targetNames(), ", "))
	starter := fs.String("starter", os.Getenv("SWIPEFLIX_STARTER_RATINGS"),
		"ratings file or dataset folder to publish once at start, or \"auto\": ../shared/datasets/ml-latest-small "+
			"when present, else generated sample data (SWIPEFLIX_STARTER_RATINGS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	selected, err := selectTargets(*targetFlag)
	if err != nil {
		return err
	}
	log, err := svcmain.NewLogger(stderr, os.Getenv)
	if err != nil {
		return err
	}

	env := Env{
		Logger:      log,
		Registry:    prometheus.NewRegistry(),
		DatabaseURL: os.Getenv("DATABASE_URL"),
		DataDir:     envOr("SWIPEFLIX_DATA_DIR", "var"),
	}
	env.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	starterFile := ""
	if *starter != "" {
		if starterFile, env.CatalogDir, err = resolveStarter(*starter, filepath.FromSlash(sharedStarter), env.DataDir); err != nil {
			return err
		}
	}

	brokers, err := startBrokers(ctx, &env, stderr)
	if err != nil {
		return err
	}
	defer brokers.close()

	runners := make([]namedRunner, 0, len(selected))
	for _, t := range selected {
		r, err := t.build(env)
		if err != nil {
			return fmt.Errorf("build %s: %w", t.name, err)
		}
		runners = append(runners, namedRunner{t.name, r})
	}
	if starterFile != "" {
		runners = append(runners, namedRunner{"starter", starterLoader{path: starterFile, env: env, out: stderr}})
	}
	log.Info("swipeflix running", "targets", strings.Join(names(selected), ","))
	err = runAll(ctx, runners)
	if err != nil {
		log.Error("swipeflix stopped", "err", err)
		return err
	}
	log.Info("swipeflix stopped")
	return nil
}

type namedRunner struct {
	name string
	r    Runner
}

// runAll runs every runner in its own goroutine. The first to return stops
// the others (through ctx), except a one-shot job (the starter load) that
// returns errDone when it finished. It waits for all and returns the first
// error.
func runAll(ctx context.Context, runners []namedRunner) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(runners))
	for _, nr := range runners {
		go func() { done <- result{nr.name, nr.r.Run(ctx)} }()
	}
	var first error
	for range runners {
		res := <-done
		switch {
		case errors.Is(res.err, errDone):
			continue
		case res.err != nil:
			res.err = fmt.Errorf("%s: %w", res.name, res.err)
		case ctx.Err() == nil:
			res.err = fmt.Errorf("%s stopped unexpectedly", res.name)
		}
		if first == nil && res.err != nil && ctx.Err() == nil {
			first = res.err
		}
		cancel()
	}
	return first
}

// errDone is returned by a one-shot runner that finished its job; it does
// not stop the others.
var errDone = errors.New("done")

func selectTargets(spec string) ([]target, error) {
	var out []target
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			return targets, nil
		}
		i := slices.IndexFunc(targets, func(t target) bool { return t.name == name })
		if i < 0 {
			return nil, fmt.Errorf("-target: unknown target %q (have all, %s)", name, strings.Join(targetNames(), ", "))
		}
		if !slices.ContainsFunc(out, func(t target) bool { return t.name == name }) {
			out = append(out, targets[i])
		}
	}
	return out, nil
}

func targetNames() []string { return names(targets) }

func names(ts []target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.name
	}
	return out
}

// runningBrokers holds the embedded brokers this process started.
type runningBrokers struct {
	kafka *embedded.Kafka
	nats  *embedded.NATS
}

func (b runningBrokers) close() {
	if b.nats != nil {
		b.nats.Close()
	}
	if b.kafka != nil {
		b.kafka.Close()
	}
}

// startBrokers fills env's broker addresses from KAFKA_BROKERS and NATS_URL,
// starting an embedded broker under env.DataDir for each one not set, and
// prints the addresses chosen.
func startBrokers(ctx context.Context, env *Env, out io.Writer) (runningBrokers, error) {
	var b runningBrokers
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		env.Brokers = envconfig.SplitList(v)
	} else {
		port, partitions := embedded.DefaultKafkaPort, 3
		vars := envconfig.New(os.Getenv)
		vars.IntRange("SWIPEFLIX_KAFKA_PORT", &port, 0, 65535) // 0: any free port
		vars.IntRange("SWIPEFLIX_KAFKA_PARTITIONS", &partitions, 1, 1000)
		if err := vars.Err(); err != nil {
			return b, err
		}
		k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{
			DataDir:    filepath.Join(env.DataDir, "kafka"),
			Port:       port,
			Partitions: int32(partitions),
			Logger:     env.Logger,
		})
		if err != nil {
			return b, err
		}
		b.kafka = k
		env.Brokers = k.Brokers()
		fmt.Fprintf(out, "embedded kafka: %s%s (data in %s)\n", k.Addr(), fellBack(k.FellBack(), embedded.DefaultKafkaPort), filepath.Join(env.DataDir, "kafka"))
	}
	if v := os.Getenv("NATS_URL"); v != "" {
		env.NATSURL = v
	} else {
		port := embedded.DefaultNATSPort
		vars := envconfig.New(os.Getenv)
		vars.IntRange("SWIPEFLIX_NATS_PORT", &port, 0, 65535) // 0: any free port
		if err := vars.Err(); err != nil {
			b.close()
			return runningBrokers{}, err
		}
		n, err := embedded.StartNATS(embedded.NATSConfig{
			StoreDir: filepath.Join(env.DataDir, "nats"),
			Port:     port,
			Logger:   env.Logger,
		})
		if err != nil {
			b.close()
			return runningBrokers{}, err
		}
		b.nats = n
		env.NATSURL = n.URL()
		fmt.Fprintf(out, "embedded nats:  %s%s (data in %s)\n", n.URL(), fellBack(n.FellBack(), embedded.DefaultNATSPort), filepath.Join(env.DataDir, "nats"))
	}
	return b, nil
}

func fellBack(did bool, port int) string {
	if did {
		return fmt.Sprintf(" (port %d was taken)", port)
	}
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
