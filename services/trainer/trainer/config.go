package trainer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// Config configures the trainer. DefaultConfig fills every field;
// RegisterSettings declares the ones a deployment sets.
type Config struct {
	// Addr is the HTTP listen address (health, metrics, registry, admin).
	Addr string
	// Brokers are the Kafka bootstrap addresses; Group is the consumer
	// group whose committed offsets trail the checkpoint (for lag tools).
	Brokers []string
	Group   string
	// DataDir holds the checkpoint and the registry spool.
	DataDir string
	// AdminToken guards the admin endpoints (bearer token). Empty disables
	// them: they answer 403.
	AdminToken string
	// RetrainToken, when set, is required in every retrain request that
	// arrives over NATS (modelbus.RetrainRequest.Token).
	RetrainToken string
	// Instance names this trainer in the lease that makes one trainer the
	// active one: the same instance restarting takes the lease back at
	// once; another waits until it lapses (LeaseTTL after the last renewal).
	Instance string
	LeaseTTL time.Duration
	// Weights maps swipes to rating-scale values.
	Weights events.Weights
	// MaxClockSkew is how far ahead of this clock an event time may be;
	// later events go to the dead-letter topic.
	MaxClockSkew time.Duration
	// Tune makes every refit choose its model family and settings on a
	// validation split of the training data (recommend.Tune), with the
	// popularity floor and the serving model as the bars to beat; Model
	// then holds the settings the search does not touch (seed, workers,
	// catalog limits). Without it every refit fits Model as it is, scored
	// on a HoldoutPercent holdout against the serving model (Gate).
	Tune bool
	// Model holds the recommender's hyperparameters for every fit.
	Model recommend.Config
	// MinEvents is how many (user, movie) pairs the state must hold before
	// the first model is fitted.
	MinEvents int
	// RefitInterval, RefitEvery (events) and RefitGrowth (the state grew
	// by this factor since the last fit, e.g. during a starter load) each
	// trigger a full refit; zero disables that trigger. A refit that would
	// cover no event the serving model does not publishes nothing.
	RefitInterval time.Duration
	RefitEvery    int
	RefitGrowth   float64
	// BehindEvents is the consumer lag from which the trainer counts as
	// catching up: an automatic refit then starts no sooner than
	// RefitMinGap (or twice the last refit's time) after the last ended,
	// and one more runs as soon as the backlog drained.
	BehindEvents int64
	RefitMinGap  time.Duration
	// HoldoutPercent of (user, movie) pairs are held out of fits to
	// evaluate them, when not tuning; GateTolerance is that gate's relative
	// slack.
	HoldoutPercent int
	GateTolerance  float64
	// Retention says which snapshots the object store keeps after each
	// publish.
	Retention modelbus.Retention
	// DeltaInterval is the longest a change waits before it goes out in a
	// delta.
	DeltaInterval time.Duration
	// CheckpointInterval and CheckpointEvery (events, 0 = off) trigger a
	// checkpoint of the rating state and the Kafka offsets it covers; a
	// failed write is retried every CheckpointRetry.
	CheckpointInterval time.Duration
	CheckpointEvery    int
	CheckpointRetry    time.Duration
	// LagInterval is how often consumer lag is measured.
	LagInterval time.Duration
	// Limits are the HTTP server's timeouts and connection cap.
	Limits svcmain.HTTPLimits
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP address,
	// without authentication: for profiling on a trusted network only.
	Pprof bool
}

// DefaultConfig is the configuration of the embedded run.
func DefaultConfig() Config {
	return Config{
		Addr:               ":8002",
		Brokers:            []string{"127.0.0.1:9092"},
		Group:              "swipeflix-trainer",
		DataDir:            "./var",
		LeaseTTL:           10 * time.Second,
		Weights:            events.DefaultWeights(),
		MaxClockSkew:       events.DefaultMaxSkew,
		Tune:               true,
		Model:              recommend.DefaultConfig(),
		MinEvents:          50,
		RefitInterval:      10 * time.Minute,
		RefitEvery:         20000,
		RefitGrowth:        2,
		BehindEvents:       5000,
		RefitMinGap:        time.Minute,
		HoldoutPercent:     10,
		GateTolerance:      0.02,
		Retention:          modelbus.DefaultRetention(),
		DeltaInterval:      200 * time.Millisecond,
		CheckpointInterval: 5 * time.Second,
		CheckpointRetry:    2 * time.Second,
		LagInterval:        5 * time.Second,
		Limits:             svcmain.DefaultHTTPLimits(),
	}
}

// checkpointPath and spoolPath are the trainer's files under DataDir.
func (c Config) checkpointPath() string {
	return filepath.Join(c.DataDir, "trainer", "checkpoint.json")
}
func (c Config) spoolPath() string { return filepath.Join(c.DataDir, "trainer", "registry-spool.json") }

// holdout is the share of pairs held out of fits: none when tuning (the
// search validates on the training data itself).
func (c Config) holdout() int {
	if c.Tune {
		return 0
	}
	return c.HoldoutPercent
}

// instance is Instance or, by default, this host and data directory: a
// restart in place is the same instance.
func (c Config) instance() string {
	if c.Instance != "" {
		return c.Instance
	}
	host, _ := os.Hostname()
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		dir = c.DataDir
	}
	return host + ":" + dir
}

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	p.Require("addr", c.Addr)
	p.RequireSome("kafka brokers", c.Brokers)
	p.Require("group", c.Group)
	p.Require("data dir", c.DataDir)
	if c.LeaseTTL < time.Second {
		p.Add("lease ttl", "must be >= 1s, got %s", c.LeaseTTL)
	}
	if c.MinEvents < 1 {
		p.Add("min events", "must be >= 1, got %d", c.MinEvents)
	}
	if c.RefitInterval < 0 || c.RefitEvery < 0 || (c.RefitGrowth != 0 && c.RefitGrowth <= 1) {
		p.Add("refit", "interval and every must be >= 0 and growth 0 or > 1 (got %s, %d, %v)",
			c.RefitInterval, c.RefitEvery, c.RefitGrowth)
	}
	if c.BehindEvents < 1 || c.RefitMinGap < 0 {
		p.Add("catch-up", "behind events must be >= 1 and the refit gap >= 0 (got %d, %s)", c.BehindEvents, c.RefitMinGap)
	}
	if c.HoldoutPercent < 0 || c.HoldoutPercent > 50 {
		p.Add("holdout percent", "must be 0..50, got %d", c.HoldoutPercent)
	}
	if c.GateTolerance < 0 || c.GateTolerance >= 1 {
		p.Add("gate tolerance", "must be in [0, 1), got %v", c.GateTolerance)
	}
	if c.Retention.Rollback < 0 || c.Retention.Extra < 0 || c.Retention.MaxAge < 0 {
		p.Add("retention", "counts and age must be >= 0 (got %+v)", c.Retention)
	}
	if c.DeltaInterval <= 0 || c.CheckpointInterval <= 0 || c.CheckpointRetry <= 0 || c.LagInterval <= 0 {
		p.Add("intervals", "delta, checkpoint, checkpoint retry and lag intervals must be > 0 (got %s, %s, %s, %s)",
			c.DeltaInterval, c.CheckpointInterval, c.CheckpointRetry, c.LagInterval)
	}
	if c.CheckpointEvery < 0 {
		p.Add("checkpoint every", "must be >= 0, got %d", c.CheckpointEvery)
	}
	if c.MaxClockSkew < 0 {
		p.Add("max clock skew", "must be >= 0, got %s", c.MaxClockSkew)
	}
	for name, v := range map[string]float64{"like": c.Weights.Like, "superlike": c.Weights.Superlike,
		"dislike": c.Weights.Dislike, "skip": c.Weights.Skip} {
		if !onRatingGrid(v) {
			p.Add("weights."+name, "must be %v..%v in steps of %v, got %v", events.MinRating, events.MaxRating, events.RatingStep, v)
		}
	}
	return p.Err()
}

// RegisterSettings declares the trainer's own settings, each once with its
// flag and environment variable. The brokers, the NATS server, the store,
// the data directory, the catalog and the clock skew are the
// infrastructure's (package modules). Tokens have no flag: command lines
// show up in ps.
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.Addr, "trainer.addr", "TRAINER_ADDR", "HTTP listen address of the trainer")
	s.String(&c.Group, "trainer.group", "SWIPEFLIX_TRAINER_GROUP", "Kafka consumer group whose offsets trail the checkpoint")
	s.Secret(&c.AdminToken, "SWIPEFLIX_ADMIN_TOKEN")
	s.Secret(&c.RetrainToken, "SWIPEFLIX_RETRAIN_TOKEN")
	s.String(&c.Instance, "trainer.instance", "SWIPEFLIX_TRAINER_INSTANCE", "name of this trainer in the active-trainer lease (default: host and data dir)")
	s.Bool(&c.Pprof, "trainer.pprof", "SWIPEFLIX_TRAINER_PPROF", "serve net/http/pprof under /debug/pprof/ on the trainer's HTTP address, unauthenticated (profiling only)")
	s.Bool(&c.Tune, "trainer.tune", "SWIPEFLIX_TUNE", "choose the model family and settings at every refit on a validation split (false: fit the fixed settings)")
	s.Int(&c.MinEvents, "trainer.min-events", "SWIPEFLIX_MIN_EVENTS", "ratings needed before the first fit")
	s.Duration(&c.RefitInterval, "trainer.refit-interval", "SWIPEFLIX_REFIT_INTERVAL", "full refit every interval (0: never)")
	s.Int(&c.RefitEvery, "trainer.refit-every", "SWIPEFLIX_REFIT_EVERY", "full refit every N applied events (0: never)")
	s.Duration(&c.RefitMinGap, "trainer.refit-min-gap", "SWIPEFLIX_REFIT_MIN_GAP", "while catching up, least time from the end of an automatic refit to the next (at least twice the last refit)")
	s.Duration(&c.CheckpointInterval, "trainer.checkpoint-interval", "SWIPEFLIX_CHECKPOINT_INTERVAL", "write the rating-state checkpoint every interval")
	s.Int(&c.CheckpointEvery, "trainer.checkpoint-every", "SWIPEFLIX_CHECKPOINT_EVERY", "also write it every N consumed events (0: by time only)")
	s.Int(&c.HoldoutPercent, "trainer.holdout-percent", "SWIPEFLIX_HOLDOUT_PERCENT", "percent of (user, movie) pairs held out for evaluation")
	s.Float(&c.GateTolerance, "trainer.gate-tolerance", "SWIPEFLIX_GATE_TOLERANCE", "relative slack of the quality gate")
	s.Int(&c.Retention.Rollback, "trainer.keep-rollback", "SWIPEFLIX_KEEP_ROLLBACK", "earlier serving snapshots kept for rollback")
	s.Int(&c.Retention.Extra, "trainer.keep-extra", "SWIPEFLIX_KEEP_EXTRA", "other snapshots kept (newest first)")
	s.Duration(&c.Retention.MaxAge, "trainer.keep-max-age", "SWIPEFLIX_KEEP_MAX_AGE", "age after which any snapshot but the serving one goes (0: none)")
	s.Var("trainer.weights", "SWIPEFLIX_SWIPE_WEIGHTS", "swipe weights, e.g. like=4,superlike=5,dislike=1,skip=ignore",
		func(v string) error { return parseWeights(v, &c.Weights) }, func() string { return formatWeights(c.Weights) })
}

// parseWeights reads "like=4,superlike=5,dislike=1,skip=ignore" (any
// subset) into w; skip=ignore drops skips, a number makes them count.
func parseWeights(s string, w *events.Weights) error {
	for _, kv := range envconfig.SplitList(s) {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("weight %q: want name=value", kv)
		}
		if name == string(events.Skip) && val == "ignore" {
			w.IgnoreSkip = true
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !onRatingGrid(f) {
			return fmt.Errorf("weight %s=%q: want a rating: %v..%v in steps of %v", name, val, events.MinRating, events.MaxRating, events.RatingStep)
		}
		switch events.Swipe(name) {
		case events.Like:
			w.Like = f
		case events.Superlike:
			w.Superlike = f
		case events.Dislike:
			w.Dislike = f
		case events.Skip:
			w.Skip, w.IgnoreSkip = f, false
		default:
			return fmt.Errorf("weight %q: unknown swipe (like, superlike, dislike, skip)", name)
		}
	}
	return nil
}

// onRatingGrid reports whether v is a rating the state keeps: 0.5..5 in
// half steps.
func onRatingGrid(v float64) bool {
	return v >= events.MinRating && v <= events.MaxRating && v/events.RatingStep == math.Trunc(v/events.RatingStep)
}

func formatWeights(w events.Weights) string {
	skip := "ignore"
	if !w.IgnoreSkip {
		skip = strconv.FormatFloat(w.Skip, 'g', -1, 64)
	}
	return fmt.Sprintf("like=%g,superlike=%g,dislike=%g,skip=%s", w.Like, w.Superlike, w.Dislike, skip)
}

// topic is the ratings topic the trainer consumes.
const topic = kafkabus.Ratings
