package eval

import (
	"fmt"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Nested runs nested cross-validation over the outer splits: for each, the
// trainer's search (recommend.Tune) runs on the training part only, with
// its own inner validation split, and every row is scored on the test part.
// Rows: random, popularity, biases (the rating model without factors:
// rating error only), each family the search tried at its best
// collaborative-only settings, fixed-hybrid (opt.Model, no tuning; unless
// opt.NoFixed) and hybrid (the served pipeline: the search's winner with
// its content weight). A family the search skipped on a split is missing
// from that split's mean. It returns the rows and, per split, what hybrid
// served. relevant is the relevance threshold on the 0.5..5 scale.
func Nested(splits []Split, movies []dataset.Movie, opt Options, relevant float64) ([]Row, []string, error) {
	type acc struct {
		row Row
		n   int
	}
	rows := map[string]*acc{}
	var order []string
	add := func(name string, r Row) {
		a, ok := rows[name]
		if !ok {
			a = &acc{row: Row{Name: name}}
			rows[name] = a
			order = append(order, name)
		}
		a.row.add(r, 1)
		a.n++
	}
	var chosen []string
	for s, sp := range splits {
		ts := TrainSet(sp.Train, movies)
		named, choice, err := nestedFits(ts, sp, movies, opt, relevant)
		if err != nil {
			return nil, nil, fmt.Errorf("split %d: %w", s+1, err)
		}
		chosen = append(chosen, choice)
		for _, n := range named {
			r := score(n.rec, sp, movies, relevant)
			r.FitSeconds = n.seconds
			add(n.name, r)
		}
	}
	// Print in a fixed order: baselines, families, fixed, hybrid.
	want := []string{"random", "popularity", "biases"}
	for _, f := range recommend.Families {
		if f != recommend.FamilyPopularity {
			want = append(want, string(f))
		}
	}
	want = append(want, "fixed-hybrid", "hybrid")
	var out []Row
	for _, name := range want {
		if a, ok := rows[name]; ok {
			a.row.scale(1 / float64(a.n))
			out = append(out, a.row)
		}
	}
	return out, chosen, nil
}

func (r *Row) scale(w float64) {
	name := r.Name
	var z Row
	z.add(*r, w)
	*r = z
	r.Name = name
}

type namedRec struct {
	name    string
	rec     Recommender
	seconds float64
}

// nestedFits fits every row's model on one outer training part.
func nestedFits(ts recommend.TrainSet, sp Split, movies []dataset.Movie, opt Options, relevant float64) ([]namedRec, string, error) {
	var out []namedRec
	timed := func(name string, fit func() (Recommender, error)) error {
		start := time.Now()
		rec, err := fit()
		if err != nil {
			return fmt.Errorf("fit %s: %w", name, err)
		}
		out = append(out, namedRec{name, rec, time.Since(start).Seconds()})
		return nil
	}
	if err := timed("random", func() (Recommender, error) { return fitRandom(sp.Train, movies) }); err != nil {
		return nil, "", err
	}
	if err := timed("popularity", func() (Recommender, error) { return fitPopularity(sp.Train, movies) }); err != nil {
		return nil, "", err
	}
	topt := opt.Tune
	topt.Split = innerSplit(opt)
	topt.Relevant = relevant
	topt.Base.Seed = max(opt.Seed, topt.Base.Seed)
	topt.Now = time.Now
	start := time.Now()
	hybrid, rep, err := recommend.Tune(ts, topt)
	if err != nil {
		return nil, "", err
	}
	tuneSeconds := time.Since(start).Seconds()
	single := ""
	if rep.Winner.Family == recommend.FamilyEnsemble {
		var best recommend.Trial
		for _, fr := range rep.Families {
			if fr.Family != recommend.FamilyPopularity && fr.WithContent.NDCG > best.NDCG {
				best = fr.WithContent
			}
		}
		single = fmt.Sprintf(", best single family %s alpha=%g %.4f", best.Family, best.Alpha, best.NDCG)
	}
	choice := fmt.Sprintf("%s %s alpha=%g (validation NDCG@10 %.4f%s, popularity %.4f; %s; %s split); rating: %s",
		rep.Winner.Family, rep.Winner.Settings, rep.Winner.Alpha, rep.Winner.NDCG, single, rep.PopularityNDCG, rep.Decision, rep.Split, rep.RatingChoice)
	biases := rep.Config
	biases.Family, biases.RatingBiasesOnly, biases.RatingBlend = recommend.FamilyPopularity, true, [recommend.BlendFeatures]float64{}
	if err := timed("biases", func() (Recommender, error) {
		m, err := recommend.Fit(ts, biases)
		return &biasesRec{modelRec{m: m}}, err
	}); err != nil {
		return nil, "", err
	}
	for _, fr := range rep.Families {
		if fr.Family == recommend.FamilyPopularity {
			continue
		}
		cfg := fr.Config
		cfg.RatingBiasesOnly, cfg.RatingReg, cfg.RatingBlend = rep.Config.RatingBiasesOnly, rep.Config.RatingReg, rep.Config.RatingBlend
		served := rep.Config
		served.Alpha = 1
		if cfg == served && rep.Decision == recommend.DecisionTuned {
			// The served family at alpha 1 is the hybrid's own fit.
			out = append(out, namedRec{string(fr.Family), &modelRec{m: hybrid.WithAlpha(1)}, rep.FitSeconds})
			continue
		}
		if err := timed(string(fr.Family), func() (Recommender, error) {
			m, err := recommend.Fit(ts, cfg)
			return &modelRec{m: m}, err
		}); err != nil {
			return nil, "", err
		}
	}
	if !opt.NoFixed {
		if err := timed("fixed-hybrid", func() (Recommender, error) {
			m, err := recommend.Fit(ts, opt.Model)
			return &modelRec{m: m}, err
		}); err != nil {
			return nil, "", err
		}
	}
	out = append(out, namedRec{"hybrid", &modelRec{m: hybrid}, tuneSeconds})
	return out, choice, nil
}

// innerSplit is the search's validation split on an outer training part:
// the one asked for, else one that mirrors the outer protocol, so that the
// search picks settings for the task it is scored on: each user's latest
// ratings by time under the temporal protocol, a random share per user
// under random or given folds.
func innerSplit(opt Options) recommend.ValidationSplit {
	switch {
	case opt.Tune.Split != recommend.SplitAuto:
		return opt.Tune.Split
	case opt.Protocol == ProtocolTemporal:
		return recommend.SplitUserTime
	}
	return recommend.SplitRandom
}

// biasesRec is the rating model without factors: rating error only.
type biasesRec struct{ modelRec }

func (*biasesRec) rankless() {}
