package trainer

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Config configures the trainer. DefaultConfig fills every field;
// RegisterFlags and FromEnv override them.
type Config struct {
	// Addr is the HTTP listen address (health, metrics, registry, admin).
	Addr string
	// Brokers are the Kafka bootstrap addresses; Group is the consumer group.
	Brokers []string
	Group   string
	// NATSURL is the NATS server carrying snapshots, deltas and requests.
	NATSURL string
	// DatabaseURL selects PostgreSQL for the registry and catalog; empty
	// means the embedded SQLite file in DataDir.
	DatabaseURL string
	// DataDir holds the checkpoint, the registry spool and, without
	// DatabaseURL, the embedded store.
	DataDir string
	// CatalogDir, when set, is a MovieLens-format folder whose movies (and
	// tags) are loaded into the store's catalog at start, for titles,
	// genres and content features.
	CatalogDir string
	// AdminToken guards the admin endpoints (bearer token). Empty disables
	// them: they answer 403.
	AdminToken string
	// Weights maps swipes to rating-scale values.
	Weights events.Weights
	// Model holds the recommender's hyperparameters for every fit.
	Model recommend.Config
	// MinEvents is how many (user, movie) pairs the state must hold before
	// the first model is fitted.
	MinEvents int
	// RefitInterval, RefitEvery (events) and RefitGrowth (the state grew
	// by this factor since the last fit, e.g. during a starter load) each
	// trigger a full refit; zero disables that trigger.
	RefitInterval time.Duration
	RefitEvery    int
	RefitGrowth   float64
	// HoldoutPercent of (user, movie) pairs are held out of fits to
	// evaluate them; GateTolerance is the quality gate's relative slack.
	HoldoutPercent int
	GateTolerance  float64
	// DeltaInterval is the longest a change waits before it goes out in a
	// delta.
	DeltaInterval time.Duration
	// CheckpointInterval and CheckpointEvery (events, 0 = off) trigger a
	// checkpoint of the rating state and the Kafka offsets it covers.
	CheckpointInterval time.Duration
	CheckpointEvery    int
	// LagInterval is how often consumer lag is measured.
	LagInterval time.Duration
}

// DefaultConfig is the configuration of the embedded run.
func DefaultConfig() Config {
	return Config{
		Addr:               ":8002",
		Brokers:            []string{"127.0.0.1:9092"},
		Group:              "swipeflix-trainer",
		NATSURL:            "nats://127.0.0.1:4222",
		DataDir:            "./var",
		Weights:            events.DefaultWeights(),
		Model:              recommend.DefaultConfig(),
		MinEvents:          50,
		RefitInterval:      10 * time.Minute,
		RefitEvery:         20000,
		RefitGrowth:        2,
		HoldoutPercent:     10,
		GateTolerance:      0.02,
		DeltaInterval:      200 * time.Millisecond,
		CheckpointInterval: 5 * time.Second,
		LagInterval:        5 * time.Second,
	}
}

// checkpointPath and spoolPath are the trainer's files under DataDir.
func (c Config) checkpointPath() string {
	return filepath.Join(c.DataDir, "trainer", "checkpoint.json")
}
func (c Config) spoolPath() string { return filepath.Join(c.DataDir, "trainer", "registry-spool.json") }

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	if c.Addr == "" {
		p.Add("addr", "required")
	}
	if len(c.Brokers) == 0 {
		p.Add("kafka brokers", "at least one is required")
	}
	if c.Group == "" {
		p.Add("group", "required")
	}
	if c.NATSURL == "" {
		p.Add("nats url", "required")
	}
	if c.DataDir == "" {
		p.Add("data dir", "required")
	}
	if c.MinEvents < 1 {
		p.Add("min events", "must be >= 1, got %d", c.MinEvents)
	}
	if c.RefitInterval < 0 || c.RefitEvery < 0 || (c.RefitGrowth != 0 && c.RefitGrowth <= 1) {
		p.Add("refit", "interval and every must be >= 0 and growth 0 or > 1 (got %s, %d, %v)",
			c.RefitInterval, c.RefitEvery, c.RefitGrowth)
	}
	if c.HoldoutPercent < 0 || c.HoldoutPercent > 50 {
		p.Add("holdout percent", "must be 0..50, got %d", c.HoldoutPercent)
	}
	if c.GateTolerance < 0 || c.GateTolerance >= 1 {
		p.Add("gate tolerance", "must be in [0, 1), got %v", c.GateTolerance)
	}
	if c.DeltaInterval <= 0 || c.CheckpointInterval <= 0 || c.LagInterval <= 0 {
		p.Add("intervals", "delta, checkpoint and lag intervals must be > 0 (got %s, %s, %s)",
			c.DeltaInterval, c.CheckpointInterval, c.LagInterval)
	}
	if c.CheckpointEvery < 0 {
		p.Add("checkpoint every", "must be >= 0, got %d", c.CheckpointEvery)
	}
	for name, v := range map[string]float64{"like": c.Weights.Like, "superlike": c.Weights.Superlike,
		"dislike": c.Weights.Dislike, "skip": c.Weights.Skip} {
		if v < events.MinRating || v > events.MaxRating {
			p.Add("weights."+name, "must be %v..%v, got %v", events.MinRating, events.MaxRating, v)
		}
	}
	return p.Err()
}

// RegisterFlags binds the settings to command-line flags on fs, with the
// values already in c as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "trainer.addr", c.Addr, "HTTP listen address of the trainer")
	envconfig.ListVar(fs, &c.Brokers, "trainer.kafka-brokers", "comma-separated Kafka brokers")
	fs.StringVar(&c.Group, "trainer.group", c.Group, "Kafka consumer group of the trainer")
	fs.StringVar(&c.NATSURL, "trainer.nats-url", c.NATSURL, "NATS server URL")
	fs.StringVar(&c.DataDir, "trainer.data-dir", c.DataDir, "directory of the checkpoint, registry spool and embedded store")
	fs.StringVar(&c.CatalogDir, "trainer.catalog", c.CatalogDir, "MovieLens-format folder whose movies are loaded into the catalog at start")
	fs.IntVar(&c.MinEvents, "trainer.min-events", c.MinEvents, "ratings needed before the first fit")
	fs.DurationVar(&c.RefitInterval, "trainer.refit-interval", c.RefitInterval, "full refit every interval (0: never)")
	fs.IntVar(&c.RefitEvery, "trainer.refit-every", c.RefitEvery, "full refit every N applied events (0: never)")
	fs.IntVar(&c.HoldoutPercent, "trainer.holdout-percent", c.HoldoutPercent, "percent of (user, movie) pairs held out for evaluation")
	fs.Float64Var(&c.GateTolerance, "trainer.gate-tolerance", c.GateTolerance, "relative slack of the quality gate")
	fs.Func("trainer.weights", "swipe weights, e.g. like=4,superlike=5,dislike=1,skip=ignore", func(s string) error {
		return parseWeights(s, &c.Weights)
	})
}

// FromEnv overrides c from the environment through getenv (os.Getenv in a
// main): KAFKA_BROKERS, NATS_URL, DATABASE_URL, SWIPEFLIX_DATA_DIR,
// SWIPEFLIX_ADMIN_TOKEN, SWIPEFLIX_CATALOG_DIR, SWIPEFLIX_REFIT_INTERVAL, SWIPEFLIX_REFIT_EVERY,
// SWIPEFLIX_MIN_EVENTS, SWIPEFLIX_SWIPE_WEIGHTS, SWIPEFLIX_GATE_TOLERANCE,
// TRAINER_ADDR. A malformed value is an error naming the variable.
func (c *Config) FromEnv(getenv func(string) string) error {
	env := envconfig.New(getenv)
	env.String("TRAINER_ADDR", &c.Addr)
	env.String("NATS_URL", &c.NATSURL)
	env.String("DATABASE_URL", &c.DatabaseURL)
	env.String("SWIPEFLIX_DATA_DIR", &c.DataDir)
	env.String("SWIPEFLIX_ADMIN_TOKEN", &c.AdminToken)
	env.String("SWIPEFLIX_CATALOG_DIR", &c.CatalogDir)
	env.List("KAFKA_BROKERS", &c.Brokers)
	env.Duration("SWIPEFLIX_REFIT_INTERVAL", &c.RefitInterval)
	env.Int("SWIPEFLIX_REFIT_EVERY", &c.RefitEvery)
	env.Int("SWIPEFLIX_MIN_EVENTS", &c.MinEvents)
	env.Float("SWIPEFLIX_GATE_TOLERANCE", &c.GateTolerance)
	env.Func("SWIPEFLIX_SWIPE_WEIGHTS", func(s string) error { return parseWeights(s, &c.Weights) })
	return env.Err()
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
		if err != nil || f < events.MinRating || f > events.MaxRating {
			return fmt.Errorf("weight %s=%q: want a number in %v..%v", name, val, events.MinRating, events.MaxRating)
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

// topic is the ratings topic the trainer consumes.
const topic = kafkabus.Ratings
