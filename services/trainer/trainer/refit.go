package trainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
)

// refitJob is what a refit works from: a copy of the rating state taken by
// the loop, so the loop keeps folding in while the refit runs.
type refitJob struct {
	reason  string
	version int64
	entries []Entry
	offsets map[int32]int64
	hash    string
	base    *recommend.Model // the serving model as published; nil if none
}

// refitResult is a refit's outcome, handed back to the loop.
type refitResult struct {
	version   int64
	published bool
	why       string
	in        install
	err       error
}

// autoRefit starts the first fit once enough pairs arrived, and a refit
// when the state grew by RefitGrowth since the last one (a starter load).
// Both wait until the consumer has caught up, so a bulk load is fitted
// once, not at every step.
func (s *Service) autoRefit(ctx context.Context) {
	if s.refitting || len(s.msgs) > 0 {
		return
	}
	n := s.state.Len()
	switch {
	case s.working == nil && s.lastFitLen == 0 && n >= s.cfg.MinEvents:
		s.startRefit(ctx, fmt.Sprintf("first model: %d pairs", n))
	case s.cfg.RefitGrowth > 0 && s.lastFitLen > 0 && float64(n) >= float64(s.lastFitLen)*s.cfg.RefitGrowth:
		s.startRefit(ctx, fmt.Sprintf("state grew from %d to %d pairs", s.lastFitLen, n))
	}
}

// startRefit copies the state and fits a new model in a goroutine that the
// loop waits for. A request while a refit runs is remembered and run next.
func (s *Service) startRefit(ctx context.Context, reason string) {
	if s.refitting {
		s.refitPending = reason
		return
	}
	if ctx.Err() != nil {
		return
	}
	if s.state.Len() == 0 {
		s.log.Info("refit skipped: no ratings yet", "reason", reason)
		return
	}
	entries := s.state.Entries()
	s.lastVersion++
	job := refitJob{reason: reason, version: s.lastVersion, entries: entries, hash: hashEntries(entries),
		offsets: make(map[int32]int64, len(s.offsets)), base: s.base}
	for p, o := range s.offsets {
		job.offsets[p] = o
	}
	s.refitting, s.sinceRefit, s.lastFitLen = true, 0, len(entries)
	s.log.Info("refit started", "version", job.version, "pairs", len(entries), "reason", reason)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res := s.refit(ctx, job)
		select {
		case s.refitDone <- res:
		case <-ctx.Done():
		}
	}()
}

// finishRefit installs a published model and starts a refit that waited.
func (s *Service) finishRefit(ctx context.Context, res refitResult) {
	s.refitting = false
	switch {
	case res.err != nil:
		s.metrics.refits.WithLabelValues("failed").Inc()
		s.log.Error("refit failed", "version", res.version, "err", res.err)
	case res.published:
		s.metrics.refits.WithLabelValues("published").Inc()
		s.log.Info("model published", "version", res.version, "gate", res.why, "metrics", res.in.manifest.Metrics)
		s.install(res.in)
	default:
		s.metrics.refits.WithLabelValues("rejected").Inc()
		s.log.Warn("model rejected by the quality gate", "version", res.version, "gate", res.why)
	}
	if r := s.refitPending; r != "" {
		s.refitPending = ""
		s.startRefit(ctx, r)
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
}

// fitCandidate fits on the non-holdout part of entries, scores the result
// and the serving model (if any) on the holdout, and applies the gate.
func fitCandidate(entries []Entry, movies []recommend.MovieInfo, cfg recommend.Config, holdoutPct int,
	gate Gate, base *recommend.Model, version int64) (candidate, error) {
	train, hold := Split(entries, holdoutPct)
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
	if b, err := json.Marshal(cfg); err == nil {
		params["model_config"] = string(b)
	}
	if base != nil {
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
// rejection, register.
func (s *Service) refit(ctx context.Context, job refitJob) refitResult {
	res := refitResult{version: job.version}
	movies := s.catalog(ctx)
	c, err := fitCandidate(job.entries, movies, s.cfg.Model, s.cfg.HoldoutPercent, s.gate, job.base, job.version)
	if err != nil {
		res.err = err
		return res
	}
	res.why = c.why
	m := c.manifest(job.version, s.now(), job.offsets, job.hash, s.cfg.Model, s.cfg.HoldoutPercent, s.gate, job.reason, job.base)
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if c.passed {
		if m, err = s.bus.Publish(pctx, m, c.snapshot); err != nil {
			res.err = err
			return res
		}
	} else if stored, err := s.bus.Store(pctx, m, c.snapshot); err != nil {
		// The rejection is still recorded; the snapshot just cannot be
		// promoted later.
		s.log.Warn("store rejected snapshot", "version", m.Version, "err", err)
	} else {
		m = stored
	}
	s.register(pctx, m, c.passed, c.why)
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
	res.in = install{work: c.model, base: base, manifest: m}
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
	if err := s.reg.Register(ctx, rec); err != nil {
		s.log.Error("register model", "version", m.Version, "err", err)
		return
	}
	if published {
		if err := s.reg.Promote(ctx, m.Version, "trainer", "quality gate passed: "+why); err != nil {
			s.log.Error("promote model", "version", m.Version, "err", err)
		}
	}
}

// catalog returns the movie catalog for a fit and remembers it for
// catalogMovie. When the store cannot be read it falls back to the last
// catalog read; without one, movies get placeholder titles and no content.
func (s *Service) catalog(ctx context.Context) []recommend.MovieInfo {
	var out []recommend.MovieInfo
	for m, err := range s.st.AllMovies(ctx) {
		if err != nil {
			s.catMu.Lock()
			defer s.catMu.Unlock()
			s.log.Warn("read catalog for refit, using the last one read", "movies", len(s.catList), "err", err)
			return s.catList
		}
		out = append(out, movieInfo(m))
	}
	byID := make(map[string]recommend.MovieInfo, len(out))
	for _, m := range out {
		byID[m.ID] = m
	}
	s.catMu.Lock()
	s.catList, s.catByID = out, byID
	s.catMu.Unlock()
	return out
}

// registryStore is the part of *store.Store the one-shot train path uses.
type registryStore interface {
	Register(ctx context.Context, r store.ModelRecord) error
	Promote(ctx context.Context, version int64, by, reason string) (store.ModelRecord, error)
}
