package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
)

// storeListAll lists every registry record.
var storeListAll = store.ListOptions{}

// refitter decides when the loop refits and runs each refit off the loop.
// Its fields belong to the loop, except what the refit goroutine returns
// through done.
type refitter struct {
	running      bool
	pending      string        // a request that came while a refit ran
	lastEnd      time.Time     // when the last refit ended
	lastTook     time.Duration // how long it took
	lastFitLen   int           // pairs the last refit covered
	sinceRefit   int           // events applied since the last refit started
	lastApplied  time.Time     // when the loop last applied an event
	sinceTick    int           // events applied since the last autoRefit tick
	caughtUpOwed bool          // a load (a burst, a catch-up, an automatic refit) came: one more refit once it settles
	// The loop's rate over the last rateWindow, to tell how long a
	// catch-up has left.
	rateAt      time.Time
	rateHandled int
	rate        float64 // messages handled per second
	done        chan refitResult
	wg          sync.WaitGroup
}

// refitJob is what a refit works from: a copy of the rating state taken by
// the loop, so the loop keeps folding in while the refit runs.
type refitJob struct {
	reason  string
	version int64
	view    *ratingstate.View // the state when the refit started; the refit releases it
	offsets map[int32]int64
	hash    string
	base    *recommend.Model // the serving model as published; nil if none
	serving modelbus.Manifest
	phase   string // modelbus.PhaseLoad or PhaseSteady
}

// refitResult is a refit's outcome, handed back to the loop.
type refitResult struct {
	version   int64
	published bool
	unchanged bool // the serving model already covers every event
	kept      bool // the serving model beat every candidate: it serves on
	why       string
	in        install
	err       error
	took      time.Duration // wall time of the refit
}

// settleAfter is how long the stream must be quiet (and the trainer caught
// up) before a load counts as settled; burstPerTick is how many events
// applied between two ticks (200 ms by default) make a load rather than a
// trickle of live swipes, which fold-ins keep current between refits.
const (
	settleAfter  = 2 * time.Second
	burstPerTick = 100
)

// autoRefit starts the refits the state calls for: the first model once
// enough pairs arrived, a refit when the state grew by RefitGrowth or took
// RefitEvery events. While the trainer catches up on a backlog these run at
// most every RefitMinGap; and once a load settles (caught up, quiet for
// settleAfter) one more refit covers what arrived since the last, so a
// bulk load ends with a model that covers all of it instead of waiting for
// the refit interval.
func (l *foldLoop) autoRefit(ctx context.Context, d loopDeps) {
	r := &l.refit
	if r.done == nil {
		r.done = make(chan refitResult, 1)
	}
	lag := d.lag()
	behind := l.isBehind(lag)
	if behind || r.sinceTick >= burstPerTick {
		r.caughtUpOwed = true
	}
	r.sinceTick = 0
	now := l.s.now()
	if dt := now.Sub(r.rateAt); dt >= rateWindow {
		if !r.rateAt.IsZero() {
			r.rate = float64(l.handled-r.rateHandled) / dt.Seconds()
		}
		r.rateAt, r.rateHandled = now, l.handled
	}
	if r.running {
		return
	}
	cfg := l.s.cfg
	n := l.state.Len()
	throttled := behind && now.Sub(r.lastEnd) < catchUpGap(cfg.RefitMinGap, r.lastTook)
	if behind && l.working != nil && !refitBeforeCaughtUp(catchUpLeft(lag, l.queued(), r.rate), r.lastTook, r.lastFitLen, n) {
		// The refit after the catch-up replaces this one before it has
		// served long: postponed, the CPU goes to the catch-up.
		throttled = true
	}
	var reason string
	phase := modelbus.PhaseSteady
	if behind {
		phase = modelbus.PhaseLoad
	}
	switch {
	case l.working == nil && r.lastFitLen == 0 && n >= cfg.MinEvents:
		reason, phase = fmt.Sprintf("first model: %d pairs", n), modelbus.PhaseLoad
	case cfg.RefitGrowth > 0 && r.lastFitLen > 0 && float64(n) >= float64(r.lastFitLen)*cfg.RefitGrowth:
		reason, phase = fmt.Sprintf("state grew from %d to %d pairs", r.lastFitLen, n), modelbus.PhaseLoad
	case cfg.RefitEvery > 0 && r.sinceRefit >= cfg.RefitEvery:
		reason = fmt.Sprintf("%d events since the last refit", r.sinceRefit)
	case !behind && r.caughtUpOwed && r.sinceRefit > 0 && l.s.now().Sub(r.lastApplied) >= settleAfter:
		r.caughtUpOwed = false
		l.startRefitIn(ctx, fmt.Sprintf("load settled: %d events since the last refit", r.sinceRefit), modelbus.PhaseSteady)
		return
	default:
		return
	}
	r.caughtUpOwed = true
	if throttled {
		return
	}
	l.startRefitIn(ctx, reason, phase)
}

// rateWindow is how often the loop's handling rate is measured for
// catchUpLeft.
const rateWindow = 5 * time.Second

// catchUpLeft estimates how long the catch-up has left: the reader's lag
// plus the messages read and not yet handled, at rate messages per second
// (unknown when rate is 0: a long time).
func catchUpLeft(lag map[int]int64, queued int, rate float64) time.Duration {
	n := float64(queued)
	for _, v := range lag {
		n += float64(v)
	}
	if rate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(min(n/rate, float64(math.MaxInt64/2)/float64(time.Second)) * float64(time.Second))
}

// refitBeforeCaughtUp reports whether an automatic refit of n pairs is
// worth starting while the catch-up has left to run: only when its model
// would serve at least twice as long as the refit takes before the refit
// after the catch-up replaces it. The refit's time is the last one's scaled
// to n pairs (a fit grows at least linearly with the pairs). A refit while
// behind shares the two cores with the catch-up: at 10M ratings a tuned
// refit of 2M pairs took 12.6 minutes of a catch-up that then ran at about
// 7,000 events/s, for a model replaced when the catch-up ended.
func refitBeforeCaughtUp(left, lastTook time.Duration, lastFitLen, n int) bool {
	if lastTook <= 0 || lastFitLen <= 0 {
		return true // nothing to go by
	}
	est := float64(lastTook) * max(1, float64(n)/float64(lastFitLen))
	return float64(left) >= 3*est
}

// catchUpGap is the least time from the end of one automatic refit to the
// start of the next while the trainer catches up: minGap, and at least
// twice what the last refit took, so refits (which share the CPU with the
// fold loop) take at most a third of the time however slow they grow with
// the data. (A gap from refit start to refit start let refits that outlast
// it run back to back: the catch-up rate at 10M ratings fell from ~100k to
// 4-8k events/s.)
func catchUpGap(minGap, lastTook time.Duration) time.Duration {
	return max(minGap, 2*lastTook)
}

// startRefit starts a refit asked for from outside (interval, request):
// a steady-state one.
func (l *foldLoop) startRefit(ctx context.Context, reason string) {
	l.startRefitIn(ctx, reason, modelbus.PhaseSteady)
}

// startRefitIn copies the state and fits a new model in a goroutine that
// the loop waits for, recording the phase it was fitted in. A request while
// a refit runs is remembered and run next.
func (l *foldLoop) startRefitIn(ctx context.Context, reason, phase string) {
	r := &l.refit
	if r.done == nil {
		r.done = make(chan refitResult, 1)
	}
	if r.running {
		r.pending = reason
		return
	}
	if ctx.Err() != nil {
		return
	}
	if l.state.Len() == 0 {
		l.s.log.Info("refit skipped: no ratings yet", "reason", reason)
		return
	}
	view := l.state.Export()
	job := refitJob{reason: reason, version: l.lastVersion + 1, view: view, hash: view.Hash().String(),
		offsets: maps.Clone(l.offsets), base: l.base, serving: l.manifest, phase: phase}
	r.running, r.sinceRefit, r.lastFitLen = true, 0, view.Len()
	started := l.s.now()
	l.s.log.Info("refit started", "version", job.version, "pairs", view.Len(), "reason", reason)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		res := l.s.refit(ctx, job)
		res.took = l.s.now().Sub(started)
		select {
		case r.done <- res:
		case <-ctx.Done():
		}
	}()
}

// finishRefit installs a published model and starts a refit that waited.
func (l *foldLoop) finishRefit(ctx context.Context, res refitResult) {
	r := &l.refit
	r.running, r.lastEnd, r.lastTook = false, l.s.now(), res.took
	switch {
	case res.err != nil:
		l.s.metrics.refits.WithLabelValues("failed").Inc()
		l.s.log.Error("refit failed", "version", res.version, "err", res.err)
	case res.unchanged:
		l.s.metrics.refits.WithLabelValues("unchanged").Inc()
		l.s.log.Info("refit publishes nothing: the serving model covers every event", "serving", l.manifest.Version)
	case res.kept:
		l.s.metrics.refits.WithLabelValues("rejected").Inc()
		l.s.log.Info("refit publishes nothing: the serving model beats every candidate", "serving", l.manifest.Version, "why", res.why)
	case res.published:
		l.lastVersion = max(l.lastVersion, res.version)
		l.s.metrics.refits.WithLabelValues("published").Inc()
		l.s.log.Info("model published", "version", res.version, "gate", res.why, "metrics", res.in.manifest.Metrics)
		l.install(res.in)
	default:
		l.lastVersion = max(l.lastVersion, res.version)
		l.s.metrics.refits.WithLabelValues("rejected").Inc()
		l.s.log.Warn("model rejected by the quality gate", "version", res.version, "gate", res.why)
	}
	if p := r.pending; p != "" {
		r.pending = ""
		l.startRefit(ctx, p)
	}
}

// candidate is a fitted and evaluated model with its snapshot.
type candidate struct {
	model            *recommend.Model
	snapshot         []byte
	scores, serving  Scores
	passed           bool
	why              string
	fitTime          time.Duration
	trainN, holdoutN int
	// tune is the search's report, when the refit tuned.
	tune *recommend.TuneReport
	// keep: the serving model beat every candidate (nothing to publish).
	keep bool
}

// tuneCandidate chooses the family and settings on a validation split of
// the whole state (recommend.Tune: the popularity floor and the serving
// model are the bars), fits the winner on everything and checks it holds
// only finite values. The events' times go with the ratings, so the split
// holds out each user's latest ratings (what a served model predicts) when
// every one has a time; the report in the manifest says which split ran.
func tuneCandidate(cols ratingstate.Columns, movies []recommend.MovieInfo, base recommend.Config,
	serving *recommend.Model, version int64, now func() time.Time) (candidate, error) {
	// Nothing here reads cols after Tune: the search drops the columns
	// once it has split them (20 bytes a pair the final fit does without).
	n := len(cols.Value)
	ts := recommend.TrainSet{Movies: movies, Ratings: recommend.Ratings{UserIDs: cols.UserIDs, MovieIDs: cols.MovieIDs,
		User: cols.User, Movie: cols.Movie, Value: cols.Value, Time: cols.TS}}
	start := time.Now()
	m, rep, err := recommend.Tune(ts, recommend.TuneOptions{Base: base, Previous: serving, Now: now})
	if err != nil {
		return candidate{}, fmt.Errorf("tune model %d on %d pairs: %w", version, n, err)
	}
	c := candidate{model: m, fitTime: time.Since(start), trainN: n, tune: &rep}
	c.scores = Scores{NDCG10: rep.Winner.NDCG, RMSE: rep.BiasesRMSE, Pairs: rep.ValidationRatings, Users: rep.ValidationUsers}
	for _, rt := range rep.RatingTrials {
		if rt.Settings == rep.RatingChoice {
			c.scores.RMSE = rt.RMSE
		}
	}
	if rep.Decision == recommend.DecisionPrevious {
		c.keep, c.why = true, rep.Reason
		return c, nil
	}
	if err := m.Validate(); err != nil {
		c.why = "refused: the model holds values that are not finite: " + err.Error()
	} else {
		c.passed, c.why = true, rep.Decision+": "+rep.Reason
	}
	m.Version = version
	if c.snapshot, err = m.MarshalBinary(); err != nil {
		return candidate{}, fmt.Errorf("snapshot model %d: %w", version, err)
	}
	return c, nil
}

// fitCandidate fits on train, scores the result and the serving model (if
// any) on the holdout, and applies the gate.
func fitCandidate(train, hold []recommend.Interaction, movies []recommend.MovieInfo, cfg recommend.Config,
	gate Gate, base *recommend.Model, version int64) (candidate, error) {
	if len(train) == 0 {
		train, hold = append(train, hold...), nil
	}
	start := time.Now()
	m, err := recommend.Fit(recommend.TrainSet{Interactions: train, Movies: movies}, cfg)
	if err != nil {
		return candidate{}, fmt.Errorf("fit model %d on %d pairs: %w", version, len(train), err)
	}
	c := candidate{model: m, fitTime: time.Since(start), trainN: len(train), holdoutN: len(hold)}
	if c.scores, err = Evaluate(m, hold); err != nil {
		return candidate{}, fmt.Errorf("evaluate model %d: %w", version, err)
	}
	if base != nil {
		if c.serving, err = Evaluate(base, hold); err != nil {
			return candidate{}, fmt.Errorf("evaluate serving model %d: %w", base.Version, err)
		}
	}
	c.passed, c.why = gate.Check(c.scores, c.serving, base != nil)
	if err := m.Validate(); err != nil {
		c.passed, c.why = false, "refused: the model holds values that are not finite: "+err.Error()
	}
	m.Version = version
	if c.snapshot, err = m.MarshalBinary(); err != nil {
		return candidate{}, fmt.Errorf("snapshot model %d: %w", version, err)
	}
	return c, nil
}

// manifest describes c for the bus and the registry.
func (c candidate) manifest(version int64, created time.Time, offsets map[int32]int64, hash string,
	cfg recommend.Config, holdoutPct int, gate Gate, reason string, base *recommend.Model) modelbus.Manifest {
	metrics := c.scores.Map()
	metrics["fit_seconds"] = c.fitTime.Seconds()
	metrics["pairs"] = float64(c.trainN + c.holdoutN)
	metrics["train_pairs"] = float64(c.trainN)
	metrics["gate_passed"] = 0
	if c.passed {
		metrics["gate_passed"] = 1
	}
	params := map[string]string{
		"reason":          reason,
		"holdout_percent": strconv.Itoa(holdoutPct),
		"gate_tolerance":  strconv.FormatFloat(gate.Tolerance, 'g', -1, 64),
		"gate_reason":     c.why,
	}
	params["model_config"] = modelConfig(cfg)
	if r := c.tune; r != nil {
		params["model_config"] = modelConfig(r.Config)
		params["family"] = string(r.Winner.Family)
		params["tune_decision"] = r.Decision
		if b, err := json.Marshal(r); err == nil {
			params["tune_report"] = string(b)
		}
		metrics["popularity_ndcg@10"] = r.PopularityNDCG
		metrics["search_seconds"] = r.SearchSeconds
	}
	if base != nil && c.tune == nil {
		metrics["serving_rmse"] = c.serving.RMSE
		metrics["serving_ndcg@10"] = c.serving.NDCG10
		params["compared_with_version"] = strconv.FormatInt(base.Version, 10)
	}
	sum := sha256.Sum256(c.snapshot)
	return modelbus.Manifest{Version: version, Object: modelbus.ObjectName(version), SHA256: hex.EncodeToString(sum[:]),
		Size: int64(len(c.snapshot)), CreatedAt: created.UTC(), Metrics: metrics, Offsets: offsets,
		DatasetHash: hash, Params: params}
}

// refit runs off the loop: fit, evaluate, gate, publish or record the
// rejection, register, prune old snapshots.
func (s *Service) refit(ctx context.Context, job refitJob) refitResult {
	res := refitResult{version: job.version}
	if job.base != nil && job.hash == job.serving.DatasetHash && s.fitSettings() == job.serving.Params[paramFitSettings] {
		// The same events and settings: the fit would be the serving model.
		job.view.Release()
		res.unchanged = true
		return res
	}
	cols := job.view.Columns()
	job.view.Release()
	movies := s.catalogInfos(ctx)
	gate := Gate{Tolerance: s.cfg.GateTolerance}
	var c candidate
	var holdoutUsers map[string]struct{}
	var err error
	if s.cfg.Tune {
		c, err = tuneCandidate(cols, movies, s.cfg.Model, job.base, job.version, s.now)
	} else {
		var train, hold []recommend.Interaction
		train, hold, holdoutUsers = split(cols, s.cfg.holdout())
		c, err = fitCandidate(train, hold, movies, s.cfg.Model, gate, job.base, job.version)
	}
	if err != nil {
		res.err = err
		return res
	}
	res.why = c.why
	if c.keep {
		res.kept = true
		return res
	}
	m := c.manifest(job.version, s.now(), job.offsets, job.hash, s.cfg.Model, s.cfg.holdout(), gate, job.reason, job.base)
	m.Params[modelbus.ParamPhase] = job.phase
	m.Params[paramFitSettings] = s.fitSettings()
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if c.passed {
		if m, err = s.deps.Bus.Publish(pctx, m, c.snapshot); err != nil {
			res.err = err
			return res
		}
	} else if stored, err := s.deps.Bus.Store(pctx, m, c.snapshot); err != nil {
		// The rejection is still recorded; the snapshot just cannot be
		// promoted later.
		s.log.Warn("store rejected snapshot", "version", m.Version, "err", err)
	} else {
		m = stored
	}
	s.register(pctx, m, c.passed, c.why)
	if deleted, err := s.deps.Bus.Prune(pctx, s.cfg.Retention, s.now()); err != nil {
		s.log.Warn("prune old snapshots", "err", err)
	} else if len(deleted) > 0 {
		s.log.Info("old snapshots pruned", "deleted", deleted)
	}
	if !c.passed {
		return res
	}
	base, err := recommend.Decode(c.snapshot)
	if err != nil {
		res.err = fmt.Errorf("decode published model %d: %w", m.Version, err)
		return res
	}
	base.Version = m.Version
	res.published = true
	res.in = install{work: c.model, base: base, manifest: m, holdoutUsers: holdoutUsers}
	return res
}

// register records a candidate, and promotes it when it was published.
// Writes go through store.Retrying: with the database down they wait in
// its queue and the trainer carries on over NATS.
func (s *Service) register(ctx context.Context, m modelbus.Manifest, published bool, why string) {
	rec, err := storebus.Record(m)
	if err != nil {
		s.log.Error("registry record", "version", m.Version, "err", err)
		return
	}
	if err := s.retry.Register(ctx, rec); err != nil {
		s.log.Error("register model", "version", m.Version, "err", err)
		return
	}
	if published {
		if err := s.retry.Promote(ctx, m.Version, "trainer", "quality gate passed: "+why); err != nil {
			s.log.Error("promote model", "version", m.Version, "err", err)
		}
	}
}

// catalogInfos is the movie catalog for a fit.
func (s *Service) catalogInfos(ctx context.Context) []recommend.MovieInfo {
	ms := s.deps.Catalog.Movies(ctx)
	out := make([]recommend.MovieInfo, len(ms))
	for i, m := range ms {
		out[i] = movieInfo(m)
	}
	return out
}

func movieInfo(m dataset.Movie) recommend.MovieInfo {
	return recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags, Overview: m.Overview}
}

// modelConfig is the manifest's record of the fit settings.
func modelConfig(cfg recommend.Config) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		return ""
	}
	return string(b)
}

// paramFitSettings records in a manifest the settings the refit ran with,
// so a refit with the same events and settings can tell it would publish
// the same model.
const paramFitSettings = "fit_settings"

// fitSettings is what besides the events decides a refit's outcome.
func (s *Service) fitSettings() string {
	return modelConfig(s.cfg.Model) + " tune=" + strconv.FormatBool(s.cfg.Tune)
}
