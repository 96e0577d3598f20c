package eval

import (
	"encoding/json"
	"flag"
	"io"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Command runs the `eval` subcommand: it parses args, evaluates, and prints
// the table (or one JSON object with -json) to stdout; usage and flag
// errors go to stderr.
func Command(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "../shared/datasets/ml-100k", "dataset folder or ratings file (any layout package dataset reads)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	protocol := fs.String("protocol", "", "folds (ml-100k u1..u5), kfold, temporal or prequential; default folds when present, else kfold")
	folds := fs.Int("folds", 5, "folds of the kfold protocol")
	warm := fs.Float64("warm", 0.5, "share of the stream the prequential protocol fits on first")
	relevant := fs.Float64("relevant", Relevant, "lowest test rating that makes a movie relevant, on the file's own scale")
	skip := fs.Bool("skip-invalid", false, "skip invalid lines (counted, first line numbers printed) instead of stopping at the first")
	noFixed := fs.Bool("no-fixed", false, "leave out the fixed-settings row (fixed-hybrid)")
	seed := fs.Uint64("seed", 1, "random seed of the folds and of the nested search")
	split := fs.String("split", "auto", "the nested search's validation split: auto (random under folds and kfold, user-time under temporal, the trainer's default under prequential), random, user-time or global-time")
	c := recommend.DefaultConfig()
	fs.IntVar(&c.Factors, "factors", c.Factors, "fixed-hybrid: rank of the ranking SVD")
	fs.Float64Var(&c.ItemNorm, "item-norm", c.ItemNorm, "fixed-hybrid: popularity normalisation exponent of the SVD input")
	fs.IntVar(&c.RatingFactors, "rating-factors", c.RatingFactors, "factors of the ALS rating model (every row)")
	fs.Float64Var(&c.RatingReg, "rating-reg", c.RatingReg, "fixed-hybrid: ALS regularisation (times the rating count)")
	fs.IntVar(&c.Iterations, "iterations", c.Iterations, "ALS sweeps of the rating model (every row)")
	fs.Float64Var(&c.Alpha, "alpha", c.Alpha, "fixed-hybrid: weight of the collaborative score")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Seed = *seed
	vsplit, err := recommend.ParseValidationSplit(*split)
	if err != nil {
		return err
	}
	tune := recommend.TuneOptions{Base: recommend.Config{RatingFactors: c.RatingFactors, Iterations: c.Iterations, Seed: *seed}, Split: vsplit}
	rep, err := Run(*data, Options{Protocol: *protocol, Model: c, NoFixed: *noFixed, Folds: *folds, Seed: *seed,
		WarmFraction: *warm, Relevant: *relevant, SkipInvalid: *skip, Tune: tune})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(stdout)
}
