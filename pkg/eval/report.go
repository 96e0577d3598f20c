package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Report is the outcome of one evaluation run, in the JSON shape of
// DESIGN.md ("Commands a user runs"), with the nested search's choices.
type Report struct {
	Dataset  string `json:"dataset"`
	Protocol string `json:"protocol"`
	Splits   int    `json:"splits"`
	Models   []Row  `json:"models"`
	// Chosen names, per outer split, the family and settings the nested
	// search served as hybrid (and the rating model it chose).
	Chosen []string `json:"chosen,omitempty"`
	// Scale is the rating scale of the file and how it maps onto the
	// model's 0.5..5; Relevant the relevance threshold on the file's scale.
	Scale    string  `json:"scale"`
	Relevant float64 `json:"relevant"`
	// SkippedLines counts the invalid lines skipped (-skip-invalid);
	// FirstSkipped names the first few as file:line.
	SkippedLines int      `json:"skipped_lines,omitempty"`
	FirstSkipped []string `json:"first_skipped,omitempty"`
	// Events and RefitOverlap are set by the prequential protocol only.
	Events       int      `json:"events,omitempty"`
	RefitOverlap *float64 `json:"refit_overlap@10,omitempty"`
	// TuneRatio is, for the prequential protocol, the tuned refit's time
	// over a plain fit of the winner on the same data.
	TuneRatio float64 `json:"tune_ratio,omitempty"`
}

// Protocols accepted by Run.
const (
	ProtocolFolds       = "folds"       // ml-100k u1..u5
	ProtocolKFold       = "kfold"       // random 5-fold
	ProtocolTemporal    = "temporal"    // last 20% of each user's ratings by time
	ProtocolPrequential = "prequential" // replay in time order
)

// Options configure Run.
type Options struct {
	// Protocol is one of the Protocol constants; "" picks folds when the
	// dataset has u1..u5 and kfold otherwise.
	Protocol string
	// Model is the configuration of the fixed-settings row ("fixed-hybrid").
	Model recommend.Config
	// NoFixed drops the fixed-settings row.
	NoFixed bool
	// Folds is the number of folds of the kfold protocol.
	Folds int
	Seed  uint64
	// WarmFraction is the share of the stream the prequential protocol fits
	// on before it replays the rest.
	WarmFraction float64
	// Relevant is the lowest test rating, on the file's own scale, that
	// makes a movie relevant (default 4).
	Relevant float64
	// SkipInvalid skips invalid lines of the ratings files (counted in the
	// report) instead of stopping at the first.
	SkipInvalid bool
	// Tune is the nested search's base options (Relevant and the seed are
	// set by Run). Its Split, when SplitAuto, mirrors the outer protocol
	// (Nested) or, in the prequential replay, is the trainer's default.
	Tune recommend.TuneOptions
}

// Run evaluates the standard rows on the dataset at dir: random,
// popularity, biases alone (rating error only), each model family at the
// settings a nested search chose on the training part of each split, the
// fixed-settings hybrid of earlier versions, and hybrid, the pipeline the
// trainer serves (recommend.Tune on the training part). The search never
// sees a test rating.
func Run(dir string, opt Options) (Report, error) {
	src, err := dataset.Open(dir)
	if err != nil {
		return Report{}, err
	}
	movies, err := src.Movies()
	if err != nil {
		return Report{}, err
	}
	if opt.Protocol == "" {
		opt.Protocol = ProtocolKFold
		if len(src.Folds) == 5 {
			opt.Protocol = ProtocolFolds
		}
	}
	if opt.Folds <= 0 {
		opt.Folds = 5
	}
	if !(opt.Relevant > 0) {
		opt.Relevant = Relevant
	}
	rep := Report{Dataset: dir, Protocol: opt.Protocol, Relevant: opt.Relevant}
	ropt := dataset.ReadOptions{AnyScale: true, SkipInvalid: opt.SkipInvalid}
	load := func(path string) ([]dataset.Rating, error) {
		rs, sk, err := dataset.LoadRatingsWith(path, ropt)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		rep.SkippedLines += sk.Count
		for _, l := range sk.First {
			if len(rep.FirstSkipped) < 5 {
				rep.FirstSkipped = append(rep.FirstSkipped, fmt.Sprintf("%s:%d", filepath.Base(path), l))
			}
		}
		return rs, nil
	}
	var splits []Split
	var all []dataset.Rating
	switch opt.Protocol {
	case ProtocolFolds:
		if len(src.Folds) == 0 {
			return Report{}, fmt.Errorf("evaluate %s: protocol folds needs u1..u5.base/test files", dir)
		}
		for _, f := range src.Folds {
			train, err := load(f[0])
			if err != nil {
				return Report{}, err
			}
			test, err := load(f[1])
			if err != nil {
				return Report{}, err
			}
			splits = append(splits, Split{Train: train, Test: test})
			all = append(all, test...)
		}
	case ProtocolKFold, ProtocolTemporal, ProtocolPrequential:
		if src.RatingsPath == "" {
			return Report{}, fmt.Errorf("evaluate %s: %w: no ratings file", dir, dataset.ErrFormat)
		}
		if all, err = load(src.RatingsPath); err != nil {
			return Report{}, err
		}
	default:
		return Report{}, fmt.Errorf("evaluate: unknown protocol %q (want folds, kfold, temporal or prequential)", opt.Protocol)
	}
	scale := dataset.DetectScale(all)
	rep.Scale = scale.String()
	relevant := scale.ToInternal(opt.Relevant)
	all = scale.Map(all)
	for i := range splits {
		splits[i] = Split{Train: scale.Map(splits[i].Train), Test: scale.Map(splits[i].Test)}
	}
	switch opt.Protocol {
	case ProtocolKFold:
		splits = KFold(all, opt.Folds, opt.Seed)
	case ProtocolTemporal:
		splits = []Split{Temporal(all, 0.2)}
	case ProtocolPrequential:
		res, err := Prequential(all, movies, opt, relevant)
		if err != nil {
			return Report{}, err
		}
		rep.Splits, rep.Models, rep.Events, rep.RefitOverlap = 1, res.Rows, res.Events, &res.RefitOverlap
		rep.Chosen, rep.TuneRatio = []string{res.Chosen}, res.TuneRatio
		return rep, nil
	}
	rows, chosen, err := Nested(splits, movies, opt, relevant)
	if err != nil {
		return Report{}, err
	}
	rep.Splits, rep.Models, rep.Chosen = len(splits), rows, chosen
	return rep, nil
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "dataset %s, protocol %s, %d split(s); ratings on %s; top-N at %d, relevant = rating >= %g on the file's scale\n",
		r.Dataset, r.Protocol, r.Splits, r.Scale, K, r.Relevant)
	if r.SkippedLines > 0 {
		fmt.Fprintf(w, "skipped %d invalid line(s), first: %s\n", r.SkippedLines, strings.Join(r.FirstSkipped, ", "))
	}
	if r.RefitOverlap != nil {
		fmt.Fprintf(w, "HR@10 = prequential hit rate over %d replayed events; at the end, fold-in and a full refit share %.1f%% of each user's top 10\n",
			r.Events, 100**r.RefitOverlap)
	}
	for i, c := range r.Chosen {
		fmt.Fprintf(w, "split %d: hybrid = %s\n", i+1, c)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tRMSE\tMAE\tP@10\tR@10\tNDCG@10\tHR@10\tcoverage\tfit s\t")
	for _, m := range r.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t\n", m.Name, num(m.RMSE), num(m.MAE),
			num(m.Precision), num(m.Recall), num(m.NDCG), num(m.HR), num(m.Coverage), m.FitSeconds)
	}
	return tw.Flush()
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// MarshalJSON writes NaN figures (no estimate) as null.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(plainRow(r))
}

func plainRow(r Row) map[string]any {
	f := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	return map[string]any{"name": r.Name, "rmse": f(r.RMSE), "mae": f(r.MAE), "precision@10": f(r.Precision),
		"recall@10": f(r.Recall), "ndcg@10": f(r.NDCG), "hr@10": f(r.HR), "coverage": f(r.Coverage),
		"fit_seconds": f(r.FitSeconds)}
}
