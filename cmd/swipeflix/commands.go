package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/eval"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// commandFlags is the flag set of subcommand name, writing its errors to
// stderr; with usage set, -h prints "usage: swipeflix " + usage and the
// flags.
func commandFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprintln(stderr, "usage: swipeflix "+usage)
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs and refuses any argument left over.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// modelFlags registers the model's hyperparameters on fs, defaulting to
// recommend.DefaultConfig.
func modelFlags(fs *flag.FlagSet) *recommend.Config {
	c := recommend.DefaultConfig()
	fs.IntVar(&c.Factors, "factors", c.Factors, "rank of the ranking SVD")
	fs.Float64Var(&c.ItemNorm, "item-norm", c.ItemNorm, "popularity normalisation exponent of the SVD input")
	fs.IntVar(&c.RatingFactors, "rating-factors", c.RatingFactors, "factors of the ALS rating model")
	fs.Float64Var(&c.RatingReg, "rating-reg", c.RatingReg, "ALS regularisation (times the rating count)")
	fs.IntVar(&c.Iterations, "iterations", c.Iterations, "ALS sweeps")
	fs.Float64Var(&c.Alpha, "alpha", c.Alpha, "hybrid weight of the collaborative score")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed")
	return &c
}

// runEval prints the evaluation table (or JSON) over a dataset folder.
func runEval(args []string, stdout, stderr io.Writer) error {
	return eval.Command(args, stdout, stderr)
}

// runTrain fits a model on a dataset folder and publishes it as the next
// version, on NATS_URL or on the embedded NATS under the data dir (the one
// `make run` uses), registering it in DATABASE_URL or the embedded store.
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("train", "", stderr)
	data := fs.String("data", "../shared/datasets/ml-100k", "dataset folder (any layout package dataset reads)")
	holdout := fs.Int("holdout", 10, "percent of the pairs held out to score the model (with -tune=false)")
	tune := fs.Bool("tune", true, "choose the model family and settings on a validation split (false: fit the fixed settings)")
	cfg := modelFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := svcmain.NewLogger(stderr, os.Getenv)
	if err != nil {
		return err
	}
	dataDir := clientDataDir()
	e, _ := endpoints.Read(dataDir)
	url := endpoints.Pick(os.Getenv("NATS_URL"), e.NATSURL)
	if url == "" {
		n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: filepath.Join(dataDir, "nats"), Port: 0, Logger: log})
		if err != nil {
			return err
		}
		defer n.Close()
		url = n.URL()
	}
	bus, err := modelbus.Connect(ctx, url, log)
	if err != nil {
		return err
	}
	defer bus.Close()
	st, err := store.Open(ctx, store.Config{DatabaseURL: os.Getenv("DATABASE_URL"),
		Path: filepath.Join(dataDir, store.EmbeddedFile), Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := trainer.TrainDataset(ctx, trainer.TrainOptions{Dir: *data, Bus: bus, Registry: st, Tune: *tune,
		Model: *cfg, HoldoutPercent: *holdout, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model v%d published (%s, %d bytes): holdout RMSE %.4f, NDCG@10 %.4f, fit %.2fs\n",
		res.Manifest.Version, res.Manifest.Object, res.Manifest.Size, res.Scores.RMSE, res.Scores.NDCG10, res.FitTime.Seconds())
	return nil
}
