package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Report is the outcome of one evaluation run, in the JSON shape of
// DESIGN.md ("Commands a user runs").
type Report struct {
	Dataset  string `json:"dataset"`
	Protocol string `json:"protocol"`
	Splits   int    `json:"splits"`
	Models   []Row  `json:"models"`
	// Events and RefitOverlap are set by the prequential protocol only.
	Events       int      `json:"events,omitempty"`
	RefitOverlap *float64 `json:"refit_overlap@10,omitempty"`
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
	Model    recommend.Config
	// Folds is the number of folds of the kfold protocol.
	Folds int
	Seed  uint64
	// WarmFraction is the share of the stream the prequential protocol fits
	// on before it replays the rest.
	WarmFraction float64
}

// Run evaluates the standard rows on the dataset at dir.
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
	rep := Report{Dataset: dir, Protocol: opt.Protocol}
	var splits []Split
	switch opt.Protocol {
	case ProtocolFolds:
		if len(src.Folds) == 0 {
			return Report{}, fmt.Errorf("evaluate %s: protocol folds needs u1..u5.base/test files", dir)
		}
		for _, f := range src.Folds {
			train, err := dataset.LoadRatings(f[0])
			if err != nil {
				return Report{}, err
			}
			test, err := dataset.LoadRatings(f[1])
			if err != nil {
				return Report{}, err
			}
			splits = append(splits, Split{Train: train, Test: test})
		}
	case ProtocolKFold, ProtocolTemporal, ProtocolPrequential:
		all, err := src.LoadAll()
		if err != nil {
			return Report{}, err
		}
		switch opt.Protocol {
		case ProtocolKFold:
			splits = KFold(all, opt.Folds, opt.Seed)
		case ProtocolTemporal:
			splits = []Split{Temporal(all, 0.2)}
		default:
			res, err := Prequential(all, movies, opt.Model, opt.WarmFraction)
			if err != nil {
				return Report{}, err
			}
			rep.Splits, rep.Models, rep.Events, rep.RefitOverlap = 1, res.Rows, res.Events, &res.RefitOverlap
			return rep, nil
		}
	default:
		return Report{}, fmt.Errorf("evaluate: unknown protocol %q (want folds, kfold, temporal or prequential)", opt.Protocol)
	}
	rows, err := Evaluate(Candidates(opt.Model), splits, movies)
	if err != nil {
		return Report{}, err
	}
	rep.Splits, rep.Models = len(splits), rows
	return rep, nil
}

// WriteTable prints the report as an aligned table.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "dataset %s, protocol %s, %d split(s); top-N at %d, relevant = rating >= %.0f\n",
		r.Dataset, r.Protocol, r.Splits, K, Relevant)
	if r.RefitOverlap != nil {
		fmt.Fprintf(w, "HR@10 = prequential hit rate over %d replayed events; at the end, fold-in and a full refit share %.1f%% of each user's top 10\n",
			r.Events, 100**r.RefitOverlap)
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
