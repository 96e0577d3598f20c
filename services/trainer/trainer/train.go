package trainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
)

// registryStore is the part of the registry the one-shot train path
// writes (*store.Store).
type registryStore interface {
	Register(ctx context.Context, r store.ModelRecord) error
	Promote(ctx context.Context, version int64, by, reason string) (store.ModelRecord, error)
}

// TrainOptions configures TrainDataset.
type TrainOptions struct {
	// Dir is a dataset folder in any layout package dataset reads.
	Dir string
	// Bus receives the snapshot (required).
	Bus *modelbus.Bus
	// Registry, when set, gets the model registered and promoted.
	Registry registryStore
	// Tune chooses the family and settings on a validation split
	// (recommend.Tune); otherwise Model is fitted as it is and scored on a
	// HoldoutPercent holdout.
	Tune bool
	// Model is the fit configuration (the fixed part of it when tuning);
	// HoldoutPercent the evaluation split when not tuning.
	Model          recommend.Config
	HoldoutPercent int
	// Now stamps the manifest; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// TrainResult is what TrainDataset published.
type TrainResult struct {
	Manifest modelbus.Manifest
	Scores   Scores
	FitTime  time.Duration
}

// TrainDataset is the one-shot train path of `swipeflix train`: it fits a
// model on a dataset folder (holding out HoldoutPercent of the pairs to
// score it), publishes it as the next version through the bus and, with a
// registry, registers and promotes it. There is no gate: the caller asked
// for this model.
func TrainDataset(ctx context.Context, opt TrainOptions) (TrainResult, error) {
	if opt.Bus == nil {
		return TrainResult{}, errors.New("train: bus is required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	src, err := dataset.Open(opt.Dir)
	if err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	catalog, err := src.Movies()
	if err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	st := ratingstate.New()
	n := 0
	if err := src.Ratings(func(r dataset.Rating) error {
		n++
		_, err := st.Update(ratingstate.Event{User: r.User, Movie: r.Movie, Value: float32(r.Value), TS: r.Time * int64(time.Second),
			EventID: "dataset-" + strconv.Itoa(n), Partition: -1, Offset: -1})
		return err
	}); err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	movies := make([]recommend.MovieInfo, len(catalog))
	for i, m := range catalog {
		movies[i] = movieInfo(m)
	}
	version := int64(1)
	switch cur, err := opt.Bus.Current(ctx); {
	case err == nil:
		version = cur.Version + 1
	case !errors.Is(err, modelbus.ErrNoModel):
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	view := st.Export()
	hash := view.Hash().String()
	cols := view.Columns()
	view.Release()
	var c candidate
	if opt.Tune {
		opt.HoldoutPercent = 0
		c, err = tuneCandidate(cols, movies, opt.Model, nil, version, opt.Now)
	} else {
		train, hold, _ := split(cols, opt.HoldoutPercent)
		c, err = fitCandidate(train, hold, movies, opt.Model, Gate{}, nil, version)
	}
	if err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	if !c.passed {
		return TrainResult{}, fmt.Errorf("train: model %d refused: %s", version, c.why)
	}
	m := c.manifest(version, opt.Now(), nil, hash, opt.Model, opt.HoldoutPercent, Gate{},
		"one-shot train from "+opt.Dir, nil)
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if m, err = opt.Bus.Publish(pctx, m, c.snapshot); err != nil {
		return TrainResult{}, fmt.Errorf("train: %w", err)
	}
	if opt.Registry != nil {
		rec, err := storebus.Record(m)
		if err != nil {
			return TrainResult{}, fmt.Errorf("train: %w", err)
		}
		if err := opt.Registry.Register(pctx, rec); err != nil {
			return TrainResult{}, fmt.Errorf("train: published model %d, but: %w", version, err)
		}
		if _, err := opt.Registry.Promote(pctx, version, "train", "one-shot train from "+opt.Dir); err != nil {
			return TrainResult{}, fmt.Errorf("train: published model %d, but: %w", version, err)
		}
	}
	opt.Logger.Info("model trained and published", "version", version, "pairs", st.Len(),
		"rmse", c.scores.RMSE, "ndcg@10", c.scores.NDCG10, "fit_seconds", c.fitTime.Seconds())
	return TrainResult{Manifest: m, Scores: c.scores, FitTime: c.fitTime}, nil
}
