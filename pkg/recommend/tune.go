package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// TuneOptions configure Tune. Zero fields take the documented defaults.
type TuneOptions struct {
	// Base holds the settings that are not searched (Seed, Workers, Neutral,
	// RatingFactors, Iterations, EASEMaxItems, ...); DefaultConfig's when zero.
	Base Config
	// Families to search (default all). Popularity is always evaluated: it
	// is the floor of the quality gate.
	Families []Family
	// ValidationFraction is the share of each user's ratings held out for
	// validation (default 0.2, at least one rating of each user who has two
	// or more).
	ValidationFraction float64
	// Split is how the validation ratings are chosen: by default each
	// user's latest by time when every rating carries a time
	// (Ratings.Time), else a random share per user. The report records
	// the split used and why.
	Split ValidationSplit
	// Relevant is the lowest held-out rating (0.5..5 scale) that counts as
	// relevant for NDCG@10 (default 4).
	Relevant float64
	// MaxTuneUsers bounds the users the search fits on (a seeded sample of
	// them; default 6,000); the winner is refitted on everyone.
	MaxTuneUsers int
	// MaxValidationUsers bounds the users scored per candidate (default 3,000).
	MaxValidationUsers int
	// CoocBudget bounds the co-occurrence work sum_u n_u^2 over all the data
	// above which EASE and item-kNN are skipped (default 4e9: their final
	// fit would not fit the refit budget).
	CoocBudget float64
	// Previous is the serving model, if any: when no candidate beats
	// popularity, it serves on instead of popularity if it beats it on the
	// validation split (each validation user folded into it from their
	// training part). It does not challenge a tuned candidate: it was
	// fitted on most of the validation ratings, which flatters it.
	Previous *Model
	// Grid replaces a family's candidate settings (each applied over Base's
	// fields that the family does not set).
	Grid map[Family][]Config
	// Alphas are the content weights tried on each family's best settings
	// (default 1, 0.9, 0.8, 0.7, 0.5).
	Alphas []float64
	// Now reads a clock for the report's timings; nil records none (the
	// search itself never depends on time).
	Now func() time.Time
	// NoEnsemble leaves the ensemble of families out of the search.
	NoEnsemble bool
}

func (o TuneOptions) withDefaults() TuneOptions {
	if !(o.ValidationFraction > 0 && o.ValidationFraction < 1) {
		o.ValidationFraction = 0.2
	}
	if !(o.Relevant > 0) {
		o.Relevant = 4
	}
	if o.MaxTuneUsers <= 0 {
		o.MaxTuneUsers = 6000
	}
	if o.MaxValidationUsers <= 0 {
		o.MaxValidationUsers = 3000
	}
	if !(o.CoocBudget > 0) {
		o.CoocBudget = 4e9
	}
	if len(o.Families) == 0 {
		o.Families = Families
	}
	if len(o.Alphas) == 0 {
		o.Alphas = []float64{1, 0.9, 0.8, 0.7, 0.5}
	}
	return o
}

// Trial is one candidate's validation figures.
type Trial struct {
	Family   Family  `json:"family"`
	Settings string  `json:"settings"`
	Alpha    float64 `json:"alpha"`
	NDCG     float64 `json:"ndcg@10"`
	Recall   float64 `json:"recall@10"`
	Seconds  float64 `json:"seconds,omitempty"`
	// Config is the candidate's full configuration.
	Config Config `json:"-"`
}

// FamilyResult is one family's best settings: collaborative only (Alpha 1)
// and blended with content at its best weight.
type FamilyResult struct {
	Family      Family `json:"family"`
	Best        Trial  `json:"best"`
	WithContent Trial  `json:"with_content"`
	// Config is the best collaborative-only configuration.
	Config Config `json:"config"`
}

// Skipped is a family the search did not try, and why.
type Skipped struct {
	Family Family `json:"family"`
	Reason string `json:"reason"`
}

// RatingTrial is one rating-model candidate's validation RMSE.
type RatingTrial struct {
	Settings string  `json:"settings"`
	RMSE     float64 `json:"rmse"`
}

// Decisions a TuneReport can record.
const (
	DecisionTuned      = "tuned"      // the best candidate beat popularity
	DecisionPopularity = "popularity" // no candidate beat popularity: popularity serves
	DecisionPrevious   = "previous"   // the previous model beat every candidate: it serves on
)

// TuneReport records a tuned refit; it is JSON-serialisable for the model's
// manifest and the registry.
type TuneReport struct {
	Seed              uint64  `json:"seed"`
	Ratings           int     `json:"ratings"`
	Users             int     `json:"users"`
	Movies            int     `json:"movies"`
	TuneUsers         int     `json:"tune_users"`
	ValidationUsers   int     `json:"validation_users"`
	ValidationRatings int     `json:"validation_ratings"`
	Relevant          float64 `json:"relevant"`
	// Split is the validation split used (never SplitAuto) and
	// SplitReason why: asked for, or chosen from the data's times.
	Split       ValidationSplit `json:"validation_split"`
	SplitReason string          `json:"validation_split_reason"`
	// Trials lists every candidate tried, in order.
	Trials   []Trial        `json:"trials"`
	Families []FamilyResult `json:"families"`
	// Ensemble is the best weighted sum of the searched PureSVD, EASE and
	// iALS (each at its best settings), when one was tried.
	Ensemble *FamilyResult `json:"ensemble,omitempty"`
	Skipped  []Skipped     `json:"skipped,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	// PopularityNDCG is the floor of the quality gate.
	PopularityNDCG float64  `json:"popularity_ndcg@10"`
	PreviousNDCG   *float64 `json:"previous_ndcg@10,omitempty"`
	// Winner is the best candidate (family, settings, content weight).
	Winner   Trial  `json:"winner"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	// RatingTrials and RatingChoice record the rating model's selection;
	// BiasesRMSE is biases alone on the same split.
	RatingTrials []RatingTrial `json:"rating_trials"`
	RatingChoice string        `json:"rating_choice"`
	BiasesRMSE   float64       `json:"biases_rmse"`
	// Config is the served model's configuration.
	Config Config `json:"config"`
	// SearchSeconds is the search, FitSeconds the final fit on all data.
	SearchSeconds float64 `json:"search_seconds"`
	FitSeconds    float64 `json:"fit_seconds"`
}

// Tune chooses a model for ts: it holds out a validation split of each
// user's ratings (from ts only: their latest when every rating has a time,
// else a random share; opt.Split), fits every family's candidate settings on
// the rest (on a sample of users when there are many), scores each by
// NDCG@10 on the held-out ratings, tries content weights on each family's
// best, chooses the rating model's regularisation (or biases alone) by
// validation RMSE, and refits the winner on all of ts. A winner that does
// not beat popularity on validation is never served: popularity is (or
// opt.Previous, when it beats popularity). The search is deterministic for
// opt.Base.Seed. The returned model is opt.Previous itself when the report's
// Decision is DecisionPrevious.
func Tune(ts TrainSet, opt TuneOptions) (*Model, TuneReport, error) {
	opt = opt.withDefaults()
	base := opt.Base.withDefaults()
	clock := opt.Now
	if clock == nil {
		clock = func() time.Time { return time.Time{} }
	}
	start := clock()
	full, err := prepare(ts, base)
	if err != nil {
		return nil, TuneReport{}, fmt.Errorf("tune: %w", err)
	}
	content := fitContent(full.movies)
	rep := TuneReport{Seed: base.Seed, Ratings: full.seen.nnz(), Users: full.users.Len(), Movies: full.items.Len(), Relevant: opt.Relevant}

	if n := full.seen.nnz(); n > largeRatings {
		// A full ALS-WR rating model of rank 64 over tens of millions of
		// ratings would take most of the refit budget: halve it.
		base.RatingFactors, base.Iterations = min(base.RatingFactors, 32), min(base.Iterations, 6)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d ratings: rating model of rank %d, %d sweeps", n, base.RatingFactors, base.Iterations))
	}
	rows := sampleRows(full.seen, opt.MaxTuneUsers, base.Seed)
	// Scoring a validation user costs a pass over the catalog per
	// candidate: bound users x movies.
	maxVal := min(opt.MaxValidationUsers, max(500, validationWork/max(full.items.Len(), 1)))
	pick, split, why := chooseSplit(ts, full, rows, opt.Split, opt.ValidationFraction, base.Seed)
	rep.Split, rep.SplitReason = split, why
	vs := splitHeldOut(full.seen, rows, pick, opt.Relevant, maxVal, base.Seed)
	rep.TuneUsers, rep.ValidationUsers, rep.ValidationRatings = len(rows), len(vs.users), len(vs.heldVals)
	if len(rows) < full.seen.rows {
		rep.Notes = append(rep.Notes, fmt.Sprintf("search on a seeded sample of %d of %d users", len(rows), full.seen.rows))
	}
	tm := &Model{cfg: base, items: full.items, movies: full.movies, genres: full.genres, genreMask: full.genreMask,
		seen: vs.train, content: content, extraContent: map[int32]sparseVec{},
		rating: &ratingModel{bu: make([]float32, vs.train.rows)}}
	tsig := vs.train.signal()
	tm.popularity = popularityOf(tsig, tm.items.Len())

	s := &searcher{tm: tm, vs: vs, sig: tsig, opt: opt, base: base, clock: clock, rep: &rep}
	cooc := coocWork(full.seen)
	if active := len(easeItems(tsig, math.MaxInt)); active > easeSearchItems {
		rep.Notes = append(rep.Notes, fmt.Sprintf("EASE searched on the %d most-rated of %d rated movies; served on up to %d", easeSearchItems, active, base.EASEMaxItems))
	}
	for _, f := range append([]Family{FamilyPopularity}, opt.Families...) {
		if f == FamilyPopularity && s.did(f) {
			continue
		}
		if (f == FamilyEASE || f == FamilyKNN) && cooc > opt.CoocBudget {
			rep.Skipped = append(rep.Skipped, Skipped{f, fmt.Sprintf("co-occurrence work sum n_u^2 = %.3g over the budget %.3g", cooc, opt.CoocBudget)})
			continue
		}
		if !f.valid() {
			rep.Skipped = append(rep.Skipped, Skipped{f, "unknown family"})
			continue
		}
		s.family(f)
	}
	if len(vs.users) == 0 {
		rep.Notes = append(rep.Notes, "no validation user has a relevant held-out rating: every NDCG is 0")
	}
	switch n := full.seen.nnz(); {
	case opt.NoEnsemble:
	case n > largeRatings:
		rep.Skipped = append(rep.Skipped, Skipped{FamilyEnsemble, fmt.Sprintf("%d ratings: fitting every member would exceed the refit budget", n)})
	default:
		s.ensemble()
	}
	s.decide()
	s.chooseRating(cooc <= opt.CoocBudget)
	rep.SearchSeconds = clock().Sub(start).Seconds()

	if rep.Decision == DecisionPrevious {
		rep.Config = opt.Previous.Config()
		return opt.Previous, rep, nil
	}
	fitStart := clock()
	full.fitPrepared(rep.Config, content)
	rep.FitSeconds = clock().Sub(fitStart).Seconds()
	return full, rep, nil
}

// searcher holds the state of one search.
type searcher struct {
	tm    *Model
	vs    *valSplit
	sig   *csr
	opt   TuneOptions
	base  Config
	clock func() time.Time
	rep   *TuneReport
	best  map[Family]rankState

	gramCache        []float64 // EASE's Gram matrix for gramKey
	gramKey          string
	easeIDs, easePos []int32
	knnLists         *csr // kNN's best-first lists for knnKey
	knnKey           string
	svd              rankState // PureSVD at maxSVDRank for svdKey
	svdKey           string
}

// rankState is a fitted ranking family, kept to try content weights on.
type rankState struct {
	ens                *ensembleStats
	cfg                Config
	k                  int
	sigma              []float64
	v, userVec         []float32
	itemGram, userGram []float64
	ease               *easeModel
	knn                *csr
	trial              Trial
}

func (s *searcher) did(f Family) bool { _, ok := s.best[f]; return ok }

func (m *Model) rankState() rankState {
	return rankState{cfg: m.cfg, k: m.k, sigma: m.sigma, v: m.v, userVec: m.userVec,
		itemGram: m.itemGram, userGram: m.userGram, ease: m.ease, knn: m.knn, ens: m.ens}
}

func (m *Model) setRank(r rankState) {
	m.cfg, m.k, m.sigma, m.v, m.userVec = r.cfg, r.k, r.sigma, r.v, r.userVec
	m.itemGram, m.userGram, m.ease, m.knn, m.ens = r.itemGram, r.userGram, r.ease, r.knn, r.ens
}

// grid returns the candidate settings of a family.
func (s *searcher) grid(f Family) []Config {
	if g, ok := s.opt.Grid[f]; ok {
		out := make([]Config, len(g))
		for i, c := range g {
			out[i] = overlay(s.base, c, f)
		}
		return out
	}
	b := s.base
	b.Family = f
	var out []Config
	switch f {
	case FamilyPopularity:
		out = append(out, b)
	case FamilyPureSVD:
		for _, norm := range []float64{0, 0.2} {
			for _, r := range []int{4, 8, 16, 32, 64} {
				c := b
				c.Factors, c.ItemNorm = r, norm
				out = append(out, c)
			}
		}
	case FamilyEASE:
		for _, l := range []float64{50, 200, 800} {
			c := b
			c.EASEReg, c.LowWeight = l, 0
			out = append(out, c)
		}
	case FamilyIALS:
		for _, l := range []float64{0.01, 0.03} {
			c := b
			c.Factors, c.IALSReg, c.IALSUnobserved, c.IALSIters, c.LowWeight = 64, l, 0.1, 8, 0
			out = append(out, c)
		}
	case FamilyKNN:
		for _, k := range []int{25, 50, 100, 200} {
			c := b
			c.Neighbors, c.Shrink, c.LowWeight = k, 10, 0
			out = append(out, c)
		}
	}
	return out
}

// overlay sets on base the family's searched fields that c sets.
func overlay(base, c Config, f Family) Config {
	out := base
	out.Family = f
	if c.Factors > 0 {
		out.Factors = c.Factors
	}
	if c.ItemNorm > 0 {
		out.ItemNorm = c.ItemNorm
	}
	if c.EASEReg > 0 {
		out.EASEReg = c.EASEReg
	}
	if c.EASEMaxItems > 0 {
		out.EASEMaxItems = c.EASEMaxItems
	}
	if c.IALSReg > 0 {
		out.IALSReg = c.IALSReg
	}
	if c.IALSUnobserved > 0 {
		out.IALSUnobserved = c.IALSUnobserved
	}
	if c.IALSIters > 0 {
		out.IALSIters = c.IALSIters
	}
	if c.Neighbors > 0 {
		out.Neighbors = c.Neighbors
	}
	if c.Shrink > 0 {
		out.Shrink = c.Shrink
	}
	out.LowWeight = c.LowWeight
	return out.withDefaults()
}

// Settings names the searched settings of c's family, for reports.
func Settings(c Config) string {
	switch c.Family {
	case FamilyPureSVD:
		return fmt.Sprintf("rank=%d item_norm=%g", c.Factors, c.ItemNorm)
	case FamilyEASE:
		return fmt.Sprintf("lambda=%g low_weight=%g max_items=%d", c.EASEReg, c.LowWeight, c.EASEMaxItems)
	case FamilyIALS:
		return fmt.Sprintf("rank=%d lambda=%g alpha0=%g iters=%d low_weight=%g", c.Factors, c.IALSReg, c.IALSUnobserved, c.IALSIters, c.LowWeight)
	case FamilyKNN:
		return fmt.Sprintf("neighbors=%d shrink=%g low_weight=%g", c.Neighbors, c.Shrink, c.LowWeight)
	case FamilyEnsemble:
		w := c.EnsembleWeights
		return fmt.Sprintf("weights puresvd=%g ease=%g ials=%g; puresvd rank=%d item_norm=%g; ease lambda=%g; ials rank=%d lambda=%g; low_weight=%g",
			w[ensSVD], w[ensEASE], w[ensIALS], c.SVDFactors, c.ItemNorm, c.EASEReg, c.Factors, c.IALSReg, c.LowWeight)
	}
	return ""
}

// family searches one family's grid, then its low-rating weight at the best
// settings (implicit families), then content weights.
func (s *searcher) family(f Family) {
	if s.best == nil {
		s.best = map[Family]rankState{}
	}
	grid := s.grid(f)
	var best rankState
	bestNDCG := math.Inf(-1)
	try := func(c Config) {
		t0 := s.clock()
		s.fitRank(c)
		nd, rc := s.tm.validationNDCG(s.vs, []float64{1})
		tr := Trial{Family: f, Settings: Settings(c), Alpha: 1, NDCG: nd[0], Recall: rc[0], Seconds: s.clock().Sub(t0).Seconds(), Config: c}
		s.rep.Trials = append(s.rep.Trials, tr)
		if tr.NDCG > bestNDCG {
			bestNDCG = tr.NDCG
			best = s.tm.rankState()
			best.trial = tr
		}
	}
	s.gramCache, s.gramKey, s.knnLists, s.knnKey, s.svdKey = nil, "", nil, "", ""
	for _, c := range grid {
		try(c)
	}
	if _, fixed := s.opt.Grid[f]; !fixed && (f == FamilyEASE || f == FamilyIALS || f == FamilyKNN) {
		c := best.cfg
		c.LowWeight = 1 - c.LowWeight
		try(c)
	}
	s.gramCache, s.gramKey, s.knnLists, s.knnKey, s.svdKey = nil, "", nil, "", ""
	s.tm.setRank(best)
	nd, rc := s.tm.validationNDCG(s.vs, s.opt.Alphas)
	fr := FamilyResult{Family: f, Best: best.trial, Config: best.cfg, WithContent: Trial{NDCG: math.Inf(-1)}}
	fr.Best.Config.Alpha, fr.Config.Alpha = 1, 1
	for j, a := range s.opt.Alphas {
		tr := Trial{Family: f, Settings: best.trial.Settings, Alpha: a, NDCG: nd[j], Recall: rc[j], Config: best.cfg}
		tr.Config.Alpha = a
		if a != 1 {
			s.rep.Trials = append(s.rep.Trials, tr)
		}
		if tr.NDCG > fr.WithContent.NDCG {
			fr.WithContent = tr
		}
	}
	best.trial = fr.WithContent
	s.best[f] = best
	s.rep.Families = append(s.rep.Families, fr)
	if f == FamilyPopularity {
		s.rep.PopularityNDCG = fr.Best.NDCG
	}
}

// fitRank fits c's ranking family on the training part, reusing work that
// does not depend on the searched setting (EASE's Gram matrix, kNN's
// lists, PureSVD's factors at a larger rank).
func (s *searcher) fitRank(c Config) {
	tm := s.tm
	tm.cfg = c
	switch c.Family {
	case FamilyEASE:
		key := fmt.Sprintf("ease %g %d", c.LowWeight, c.EASEMaxItems)
		if s.gramKey != key {
			imp := tm.seen.implicit(c)
			ids := easeItems(imp, min(c.EASEMaxItems, easeSearchItems))
			g, pos := easeGram(imp, ids)
			s.gramCache, s.gramKey, s.easeIDs, s.easePos = g, key, ids, pos
		}
		tm.k, tm.v, tm.userVec, tm.sigma, tm.knn, tm.itemGram, tm.userGram = 0, nil, nil, nil, nil, nil, nil
		tm.ease = easeFromGram(s.gramCache, s.easeIDs, s.easePos, c.EASEReg)
	case FamilyKNN:
		key := fmt.Sprintf("knn %g %g", c.LowWeight, c.Shrink)
		if s.knnKey != key {
			s.knnLists, s.knnKey = knnLists(tm.seen.implicit(c), 200, c.Shrink, c.Workers), key
		}
		tm.k, tm.v, tm.userVec, tm.sigma, tm.ease, tm.itemGram, tm.userGram = 0, nil, nil, nil, nil, nil, nil
		tm.knn = truncateKNN(s.knnLists, c.Neighbors)
	case FamilyPureSVD:
		key := fmt.Sprintf("svd %g", c.ItemNorm)
		if s.svdKey != key {
			big := c
			big.Factors = maxSVDRank
			tm.fitRanking(s.sig, nil, big)
			s.svd, s.svdKey = tm.rankState(), key
		}
		r := min(c.Factors, s.svd.k)
		tm.k, tm.sigma = r, s.svd.sigma[:r]
		tm.v = make([]float32, tm.items.Len()*r)
		for i := 0; i < tm.items.Len(); i++ {
			copy(tm.v[i*r:i*r+r], s.svd.v[i*s.svd.k:i*s.svd.k+r])
		}
		tm.userVec = make([]float32, tm.seen.rows*r)
		for u := 0; u < tm.seen.rows; u++ {
			idx, val := tm.seen.row(u)
			tm.project(idx, val, tm.userVec[u*r:u*r+r])
		}
	case FamilyIALS:
		// The search fits half the sweeps: settings rank alike long before
		// the factors converge; the winner is fitted with all of them.
		short := c
		short.IALSIters = max(2, c.IALSIters/2)
		tm.fitRanking(s.sig, tm.seen.implicit(c), short)
		tm.cfg = c
	default:
		tm.fitRanking(s.sig, tm.seen.implicit(c), c)
	}
}

// ratingMargin is the share of biases' validation RMSE by which a factor
// model must beat them to be chosen.
const ratingMargin = 0.005

// largeRatings is the data size above which the rating model is cheapened.
const largeRatings = 5_000_000

// validationWork bounds validation users x movies scored per candidate.
const validationWork = 50_000_000

// easeSearchItems caps EASE's catalog during the search: the solve costs
// n^3, and the regularisation that suits the 1,000 most-rated movies suits
// a larger catalog of the same data too. The winner is fitted on up to
// Config.EASEMaxItems.
const easeSearchItems = 1000

// maxSVDRank is the rank of the one PureSVD fit per popularity exponent
// that the search truncates to each candidate rank (the leading singular
// vectors of a randomised SVD approximate those of a lower-rank one).
const maxSVDRank = 64

// decide applies the quality gate and the previous model's challenge.
func (s *searcher) decide() {
	rep := s.rep
	pop := s.best[FamilyPopularity].trial
	winner := pop
	for _, fr := range rep.Families {
		if fr.Family != FamilyPopularity && fr.WithContent.NDCG > winner.NDCG {
			winner = fr.WithContent
		}
	}
	if e := rep.Ensemble; e != nil && e.WithContent.NDCG > winner.NDCG {
		winner = e.WithContent
	}
	rep.Winner = winner
	rep.Decision, rep.Config = DecisionTuned, winner.Config
	switch {
	case winner.Family == FamilyPopularity:
		rep.Decision = DecisionPopularity
		var bestOther *Trial
		for i, fr := range rep.Families {
			if fr.Family != FamilyPopularity && (bestOther == nil || fr.WithContent.NDCG > bestOther.NDCG) {
				bestOther = &rep.Families[i].WithContent
			}
		}
		if bestOther == nil {
			rep.Reason = "no other family was tried: popularity serves"
		} else {
			rep.Reason = fmt.Sprintf("the best candidate, %s %s alpha=%g, has validation NDCG@10 %.4f, not above popularity's %.4f: popularity serves (quality gate)",
				bestOther.Family, bestOther.Settings, bestOther.Alpha, bestOther.NDCG, pop.NDCG)
		}
		if winner.Alpha != 1 {
			rep.Reason = fmt.Sprintf("popularity blended with content (alpha=%g) is best on validation, NDCG@10 %.4f against %.4f for popularity alone", winner.Alpha, winner.NDCG, pop.NDCG)
			rep.Decision = DecisionTuned
		}
	default:
		rep.Reason = fmt.Sprintf("%s %s alpha=%g has the best validation NDCG@10, %.4f, above popularity's %.4f", winner.Family, winner.Settings, winner.Alpha, winner.NDCG, pop.NDCG)
	}
	// The previous model was fitted on most of the validation split's
	// ratings, so its validation score is flattering: it challenges only
	// the popularity fallback, never a tuned candidate, or refits would
	// rarely publish and the served model would fall behind its events.
	if s.opt.Previous != nil && rep.Decision == DecisionPopularity {
		p := s.previousNDCG()
		rep.PreviousNDCG = &p
		if p > winner.NDCG {
			rep.Decision = DecisionPrevious
			rep.Reason = fmt.Sprintf("the previous model (validation NDCG@10 %.4f, users folded in from their training part) beats the best candidate %s (%.4f): it serves on",
				p, winner.Family, winner.NDCG)
		}
	}
}

// chooseRating picks the rating model's regularisation, or biases alone, or
// (when blend) a blend of the best factor model with Koren's neighbourhood
// predictor, by RMSE on the held-out ratings, and sets it on the served
// configuration.
func (s *searcher) chooseRating(blend bool) {
	rep := s.rep
	sigT := s.sig.transpose()
	type cand struct {
		name string
		cfg  Config
	}
	var cands []cand
	b := s.base
	b.RatingBiasesOnly = true
	cands = append(cands, cand{"biases only", b})
	for _, reg := range []float64{0.06, 0.12} {
		c := s.base
		c.RatingBiasesOnly, c.RatingReg = false, reg
		cands = append(cands, cand{fmt.Sprintf("factors=%d reg=%g", c.RatingFactors, reg), c})
	}
	bestRMSE, bestIdx := math.Inf(1), 0
	bestFactors, bestFactorsRMSE := 0, math.Inf(1)
	for i, c := range cands {
		// Half the sweeps rank the candidates as the full fit would.
		prm := ratingParams(c.cfg)
		prm.iters = max(2, prm.iters/2)
		rm := fitRatingModel(s.sig, sigT, prm)
		rmse := s.vs.rmse(rm)
		rep.RatingTrials = append(rep.RatingTrials, RatingTrial{Settings: c.name, RMSE: rmse})
		if i == 0 {
			rep.BiasesRMSE = rmse
		} else if rmse < bestFactorsRMSE {
			bestFactors, bestFactorsRMSE = i, rmse
		}
		// Factors must beat biases alone by a margin to be chosen: on
		// thin data their validation gain does not survive a refit.
		if i > 0 {
			rmse += ratingMargin * rep.BiasesRMSE
		}
		if rmse < bestRMSE {
			bestRMSE, bestIdx = rmse, i
		}
	}
	rep.RatingChoice = cands[bestIdx].name
	rep.Config.RatingBiasesOnly = cands[bestIdx].cfg.RatingBiasesOnly
	rep.Config.RatingReg = cands[bestIdx].cfg.RatingReg
	rep.Config.RatingBlend = [BlendFeatures]float64{}
	if !blend {
		rep.Notes = append(rep.Notes, "rating blend not tried: the neighbourhood predictor's co-occurrence work is over budget")
		return
	}
	if bestFactors == 0 {
		return
	}
	c := cands[bestFactors].cfg
	w, rmse, ok := s.fitRatingBlend(c, sigT)
	name := "blend of " + cands[bestFactors].name + " and item-kNN baseline"
	if !ok {
		rep.Notes = append(rep.Notes, "rating blend not fitted: too few validation ratings")
		return
	}
	rep.RatingTrials = append(rep.RatingTrials, RatingTrial{Settings: name, RMSE: rmse})
	if rmse+ratingMargin*rep.BiasesRMSE < bestRMSE {
		rep.RatingChoice = name
		rep.Config.RatingBiasesOnly, rep.Config.RatingReg, rep.Config.RatingBlend = false, c.RatingReg, w
	}
}

// minBlendRatings is the fewest held-out ratings the blend's weights are
// fitted on.
const minBlendRatings = 20 * BlendFeatures

// fitRatingBlend fits the factor model of c (all sweeps) and the
// neighbourhood predictor on the training part, and the blend's weights on
// the held-out ratings. The RMSE it returns is cross-fitted (weights fitted
// on half of the validation users, scored on the other half, and the other
// way round) so that it is not flattered by the weights' own fit.
func (s *searcher) fitRatingBlend(c Config, sigT *csr) (w [BlendFeatures]float64, rmse float64, ok bool) {
	vs := s.vs
	if len(vs.heldRows) < minBlendRatings {
		return w, 0, false
	}
	rm := fitRatingModel(s.sig, sigT, ratingParams(c))
	prm := defaultKNNBaseParams()
	prm.workers = c.Workers
	nb := fitKNNBaseline(s.sig, sigT, prm)
	x := make([][BlendFeatures]float64, len(vs.heldRows))
	y := make([]float64, len(vs.heldRows))
	half := make([]bool, len(vs.heldRows))
	var ku knnUser
	cur := int32(-1)
	for j, r := range vs.heldRows {
		if r != cur {
			idx, val := s.sig.row(int(r))
			nb.user(idx, val, &ku)
			cur = r
		}
		i := vs.heldCols[j]
		mf := rm.mu + float64(rm.bu[r]) + float64(rm.bi[i]) +
			float64(dot32(rm.p[int(r)*rm.k:int(r)*rm.k+rm.k], rm.q[int(i)*rm.k:int(i)*rm.k+rm.k]))
		kn, base, li := nb.predict(&ku, i)
		blendFeatures([3]float64{mf, kn, base}, ku.lu, li, &x[j])
		y[j] = float64(vs.heldVals[j])
		half[j] = mixHash(uint64(s.base.Seed), uint64(vs.fullRow[r]))&1 == 1
	}
	var sq float64
	for _, h := range []bool{false, true} {
		var xa [][BlendFeatures]float64
		var ya []float64
		for j := range x {
			if half[j] != h {
				xa, ya = append(xa, x[j]), append(ya, y[j])
			}
		}
		wh, fitted := fitBlend(xa, ya)
		if !fitted {
			return w, 0, false
		}
		for j := range x {
			if half[j] == h {
				var v float64
				for f := range wh {
					v += wh[f] * x[j][f]
				}
				d := math.Max(0.5, math.Min(5, v)) - y[j]
				sq += d * d
			}
		}
	}
	if len(x) < minBlendRatings {
		return w, 0, false
	}
	w, ok = fitBlend(x, y)
	if !ok {
		return w, 0, false
	}
	return w, math.Sqrt(sq / float64(len(x))), true
}

// mixHash is a 64-bit finaliser (splitmix64) of a and b.
func mixHash(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 + b
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// valSplit is a validation split of a sample of users.
type valSplit struct {
	train    *csr      // sampled users x items, without the held-out ratings
	fullRow  []int32   // train row -> row of the full matrix
	users    []int32   // train rows scored for NDCG
	relevant [][]int32 // per scored user, held-out movies rated >= Relevant (sorted)
	heldRows []int32   // every held-out rating, for RMSE
	heldCols []int32
	heldVals []float32
}

// sampleRows returns at most n rows of m (users with at least one
// interaction), a seeded sample when there are more.
func sampleRows(m *csr, n int, seed uint64) []int32 {
	var rows []int32
	for r := 0; r < m.rows; r++ {
		if m.ptr[r+1] > m.ptr[r] {
			rows = append(rows, int32(r))
		}
	}
	if len(rows) <= n {
		return rows
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a3e))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	rows = rows[:n]
	sort.Slice(rows, func(i, j int) bool { return rows[i] < rows[j] })
	return rows
}

// splitValidation holds out frac of each sampled user's ratings (value > 0),
// at least one of every user with two or more, chosen by a seeded shuffle
// per user (SplitRandom): light users are most of a sparse dataset, and a
// validation split of heavy users alone would not represent them.
func splitValidation(m *csr, rows []int32, frac, relevant float64, maxUsers int, seed uint64) *valSplit {
	random, _, _ := chooseSplit(TrainSet{}, nil, rows, SplitRandom, frac, seed)
	return splitHeldOut(m, rows, random, relevant, maxUsers, seed)
}

// splitHeldOut holds out, from each sampled row, the signal ratings that
// held picks, and chooses the validation users among those with a relevant
// held-out rating.
func splitHeldOut(m *csr, rows []int32, pick holdout, relevant float64, maxUsers int, seed uint64) *valSplit {
	vs := &valSplit{fullRow: rows}
	train := &csr{rows: len(rows), cols: m.cols, ptr: make([]int64, len(rows)+1)}
	var cand []int32
	var rel [][]int32
	for tr, r := range rows {
		idx, val := m.row(int(r))
		var sig []int
		for p, v := range val {
			if v > 0 {
				sig = append(sig, p)
			}
		}
		held := map[int]bool{}
		for _, p := range pick(tr, r, sig) {
			held[p] = true
		}
		var relevantItems []int32
		for p, c := range idx {
			if held[p] {
				vs.heldRows = append(vs.heldRows, int32(tr))
				vs.heldCols = append(vs.heldCols, c)
				vs.heldVals = append(vs.heldVals, val[p])
				if float64(val[p]) >= relevant {
					relevantItems = append(relevantItems, c)
				}
				continue
			}
			train.idx = append(train.idx, c)
			train.val = append(train.val, val[p])
		}
		train.ptr[tr+1] = int64(len(train.idx))
		if len(relevantItems) > 0 {
			cand = append(cand, int32(tr))
			rel = append(rel, relevantItems)
		}
	}
	vs.train = train
	if len(cand) > maxUsers {
		rng := rand.New(rand.NewPCG(seed, 0x0a11))
		perm := rng.Perm(len(cand))[:maxUsers]
		sort.Ints(perm)
		for _, j := range perm {
			vs.users = append(vs.users, cand[j])
			vs.relevant = append(vs.relevant, rel[j])
		}
	} else {
		vs.users, vs.relevant = cand, rel
	}
	return vs
}

// coocWork is sum over users of n_u^2: the work of building an item-item
// co-occurrence (kNN) or Gram (EASE) matrix.
func coocWork(m *csr) float64 {
	var w float64
	for r := 0; r < m.rows; r++ {
		n := float64(m.ptr[r+1] - m.ptr[r])
		w += n * n
	}
	return w
}

// rmse is the rating model's error on the held-out ratings.
func (vs *valSplit) rmse(rm *ratingModel) float64 {
	var sq float64
	for j, r := range vs.heldRows {
		i := vs.heldCols[j]
		v := rm.mu + float64(rm.bi[i]) + float64(rm.bu[r]) +
			float64(dot32(rm.p[int(r)*rm.k:int(r)*rm.k+rm.k], rm.q[int(i)*rm.k:int(i)*rm.k+rm.k]))
		v = math.Max(0.5, math.Min(5, v))
		d := v - float64(vs.heldVals[j])
		sq += d * d
	}
	if len(vs.heldRows) == 0 {
		return math.NaN()
	}
	return math.Sqrt(sq / float64(len(vs.heldRows)))
}

// validationNDCG scores every validation user at each content weight and
// returns the mean NDCG@10 and recall@10 per weight.
func (m *Model) validationNDCG(vs *valSplit, alphas []float64) (ndcg, recall []float64) {
	per := make([][2]float64, len(vs.users)*len(alphas))
	workers := m.cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := new(scratch)
			collab := make([]float32, m.items.Len())
			onlyCollab := len(alphas) == 1 && alphas[0] >= 1
			for j := w; j < len(vs.users); j += workers {
				st := m.userAt(vs.users[j])
				s.reset(m.items.Len(), len(m.content.terms))
				for _, i := range st.items {
					s.excluded[i] = true
				}
				var c components
				if onlyCollab {
					// Ranking by z(collab) is ranking by collab: no blend.
					m.collabScores(st, s)
					per[j] = ndcgOf(topUnexcluded(s, s.collab), vs.relevant[j])
					continue
				}
				c = m.componentScores(st, s)
				copy(collab, s.collab)
				for a, alpha := range alphas {
					copy(s.collab, collab)
					cc := c
					if alpha >= 1 {
						cc.ts = 0
					}
					blend(s, cc, alpha)
					per[j*len(alphas)+a] = ndcgOf(topUnexcluded(s, s.collab), vs.relevant[j])
				}
			}
		}()
	}
	wg.Wait()
	ndcg, recall = make([]float64, len(alphas)), make([]float64, len(alphas))
	if len(vs.users) == 0 {
		return ndcg, recall
	}
	for j := range vs.users { // in order: deterministic sums
		for a := range alphas {
			ndcg[a] += per[j*len(alphas)+a][0]
			recall[a] += per[j*len(alphas)+a][1]
		}
	}
	for a := range alphas {
		ndcg[a] /= float64(len(vs.users))
		recall[a] /= float64(len(vs.users))
	}
	return ndcg, recall
}

// topUnexcluded returns the 10 best scores not excluded in s.
func topUnexcluded(s *scratch, scores []float32) []candidate {
	s.heap.reset(10)
	for i, x := range scores {
		if !s.excluded[i] {
			s.heap.offer(int32(i), x)
		}
	}
	return s.heap.sorted()
}

// ndcgOf returns NDCG@10 and recall@10 of a ranking against the sorted
// relevant items.
func ndcgOf(ranked []candidate, relevant []int32) [2]float64 {
	var dcg, ideal float64
	hits := 0
	for r, c := range ranked {
		j := sort.Search(len(relevant), func(x int) bool { return relevant[x] >= c.item })
		if j < len(relevant) && relevant[j] == c.item {
			dcg += 1 / math.Log2(float64(r+2))
			hits++
		}
	}
	for r := 0; r < 10 && r < len(relevant); r++ {
		ideal += 1 / math.Log2(float64(r+2))
	}
	if ideal == 0 {
		return [2]float64{}
	}
	return [2]float64{dcg / ideal, float64(hits) / float64(len(relevant))}
}

// previousNDCG scores the previous model on the validation split: each
// validation user is folded into it from their training part (their
// held-out ratings are unknown to the fold-in, though the previous fit may
// have seen them), and ranked with the model's own settings.
func (s *searcher) previousNDCG() float64 {
	prev := s.opt.Previous
	tm := s.tm
	var sum float64
	for j, tr := range s.vs.users {
		idx, val := tm.seen.row(int(tr))
		rated := make([]Rated, len(idx))
		for p, i := range idx {
			rated[p] = Rated{Movie: tm.items.ID(i), Value: val[p]}
		}
		d := prev.FoldUser("\x00validation", rated)
		ids := prev.rankDelta(d, 10)
		rel := map[string]bool{}
		for _, i := range s.vs.relevant[j] {
			rel[tm.items.ID(i)] = true
		}
		var dcg, ideal float64
		for r, id := range ids {
			if rel[id] {
				dcg += 1 / math.Log2(float64(r+2))
			}
		}
		for r := 0; r < 10 && r < len(rel); r++ {
			ideal += 1 / math.Log2(float64(r+2))
		}
		sum += dcg / ideal
	}
	if len(s.vs.users) == 0 {
		return 0
	}
	return sum / float64(len(s.vs.users))
}

// rankDelta returns the top n movie ids for a folded-in user state that is
// not applied to the model.
func (m *Model) rankDelta(d UserDelta, n int) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := &userState{vec: d.Factors, rvec: d.RatingFactors, rbias: d.RatingBias}
	for _, r := range d.Rated {
		if i, ok := m.items.Lookup(r.Movie); ok {
			st.items = append(st.items, i)
			st.values = append(st.values, r.Value)
		}
	}
	s := m.getScratch()
	defer m.scratch.Put(s)
	for _, i := range st.items {
		s.excluded[i] = true
	}
	s.heap.reset(n)
	if !st.hasSignal() {
		copy(s.collab, m.popularity)
	} else {
		m.hybridScores(st, s, m.cfg.Alpha)
	}
	for i, x := range s.collab {
		if !s.excluded[i] {
			s.heap.offer(int32(i), x)
		}
	}
	var out []string
	for _, c := range s.heap.sorted() {
		out = append(out, m.items.ID(c.item))
	}
	return out
}

// String summarises a report in one line.
func (r TuneReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s alpha=%g validation NDCG@10 %.4f (popularity %.4f; %s split); rating: %s",
		r.Decision, r.Winner.Family, r.Winner.Settings, r.Winner.Alpha, r.Winner.NDCG, r.PopularityNDCG, r.Split, r.RatingChoice)
	return b.String()
}
