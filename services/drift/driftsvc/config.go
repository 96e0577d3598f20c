// Package driftsvc is the drift service: it consumes swipeflix.ratings in
// its own consumer group, keeps a reference window and a sliding current
// window, and every interval compares them feature by feature (pkg/drift),
// then publishes the report on NATS, stores it, exports Prometheus gauges
// and serves it over HTTP as JSON and as an HTML page with charts. On
// dataset drift it can ask the trainer for a refit.
package driftsvc

import (
	"flag"
	"os"
	"time"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

// Reference modes.
const (
	RefFirstN = "first_n" // the first ReferenceEvents events the group reads
	RefPeriod = "period"  // events with ReferenceFrom <= ts < ReferenceTo
	RefPinned = "pinned"  // the reference of the latest stored report
)

// Config configures the drift service. DefaultConfig fills every field;
// RegisterFlags and FromEnv override them.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// Topic is the ratings topic; malformed messages go to the DLQ topic
	// (kafkabus.DLQ).
	Topic string
	// GroupID is the drift service's own consumer group.
	GroupID string
	// NATSURL is the NATS server; ReportSubject carries each report.
	NATSURL       string
	ReportSubject string
	// RetrainOnDrift publishes a refit request on RetrainSubject when a
	// report turns to dataset drift (once per episode, not every report).
	RetrainOnDrift bool
	RetrainSubject string
	// Interval between reports.
	Interval time.Duration
	// Reference is RefFirstN, RefPeriod or RefPinned.
	Reference       string
	ReferenceEvents int
	ReferenceFrom   time.Time
	ReferenceTo     time.Time
	// CurrentEvents sizes the sliding current window by count, unless
	// CurrentSpan > 0 slides it by event time instead.
	CurrentEvents int
	CurrentSpan   time.Duration
	// MinCurrent is the fewest current events a report is made from.
	MinCurrent int
	// Drift holds the statistical thresholds (Evidently's defaults).
	Drift drift.Config
}

// DefaultConfig is the configuration of the embedded run.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8003",
		Brokers:         []string{"127.0.0.1:9092"},
		Topic:           "swipeflix.ratings",
		GroupID:         "swipeflix-drift",
		NATSURL:         "nats://127.0.0.1:4222",
		ReportSubject:   "swipeflix.drift.report",
		RetrainSubject:  "swipeflix.trainer.retrain",
		Interval:        30 * time.Second,
		Reference:       RefFirstN,
		ReferenceEvents: 1000,
		CurrentEvents:   1000,
		MinCurrent:      100,
		Drift:           drift.DefaultConfig(),
	}
}

// Validate names the first setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	if c.Addr == "" {
		p.Add("addr", "required")
	}
	if len(c.Brokers) == 0 {
		p.Add("kafka brokers", "at least one is required")
	}
	if c.Topic == "" || c.GroupID == "" {
		p.Add("topic/group", "both required")
	}
	if c.NATSURL == "" || c.ReportSubject == "" {
		p.Add("nats url/report subject", "both required")
	}
	if c.Interval <= 0 {
		p.Add("interval", "must be > 0, got %s", c.Interval)
	}
	switch c.Reference {
	case RefFirstN, RefPinned:
		if c.ReferenceEvents < 1 {
			p.Add("reference events", "must be >= 1, got %d", c.ReferenceEvents)
		}
	case RefPeriod:
		if !c.ReferenceFrom.Before(c.ReferenceTo) {
			p.Add("reference period", "from %s is not before to %s",
				c.ReferenceFrom.Format(time.RFC3339), c.ReferenceTo.Format(time.RFC3339))
		}
	default:
		p.Add("reference", "must be %s, %s or %s, got %q", RefFirstN, RefPeriod, RefPinned, c.Reference)
	}
	if c.CurrentSpan < 0 || (c.CurrentSpan == 0 && c.CurrentEvents < 1) {
		p.Add("current window", "needs events >= 1 or a span > 0 (events %d, span %s)", c.CurrentEvents, c.CurrentSpan)
	}
	if c.MinCurrent < 1 {
		p.Add("min current", "must be >= 1, got %d", c.MinCurrent)
	}
	if err := c.Drift.Validate(); err != nil {
		p.Add("drift", "%w", err)
	}
	return p.Err()
}

// RegisterFlags binds the settings to command-line flags on fs, with the
// values already in c as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "drift.addr", c.Addr, "HTTP listen address of the drift service")
	envconfig.ListVar(fs, &c.Brokers, "drift.kafka-brokers", "comma-separated Kafka brokers")
	fs.StringVar(&c.GroupID, "drift.group", c.GroupID, "Kafka consumer group of the drift service")
	fs.StringVar(&c.NATSURL, "drift.nats-url", c.NATSURL, "NATS server URL")
	fs.DurationVar(&c.Interval, "drift.interval", c.Interval, "time between drift reports")
	fs.StringVar(&c.Reference, "drift.reference", c.Reference, "reference window: first_n, period or pinned")
	fs.IntVar(&c.ReferenceEvents, "drift.reference-events", c.ReferenceEvents, "events in the first_n reference window")
	fs.Func("drift.reference-from", "start of the period reference (RFC 3339)", timeFlag(&c.ReferenceFrom))
	fs.Func("drift.reference-to", "end of the period reference (RFC 3339, exclusive)", timeFlag(&c.ReferenceTo))
	fs.IntVar(&c.CurrentEvents, "drift.current-events", c.CurrentEvents, "events in the sliding current window")
	fs.DurationVar(&c.CurrentSpan, "drift.current-span", c.CurrentSpan, "slide the current window by event time over this span instead of by count")
	fs.IntVar(&c.MinCurrent, "drift.min-current", c.MinCurrent, "fewest current events a report is made from")
	fs.BoolVar(&c.RetrainOnDrift, "drift.retrain-on-drift", c.RetrainOnDrift, "ask the trainer for a refit when dataset drift starts")
}

// FromEnv overrides c from the environment variables the deployment sets:
// DRIFT_ADDR, KAFKA_BROKERS, NATS_URL, DRIFT_INTERVAL, DRIFT_REFERENCE,
// DRIFT_REFERENCE_EVENTS, DRIFT_REFERENCE_FROM, DRIFT_REFERENCE_TO,
// DRIFT_CURRENT_EVENTS, DRIFT_CURRENT_SPAN, DRIFT_RETRAIN_ON_DRIFT. A
// malformed value is an error naming the variable.
func (c *Config) FromEnv() error {
	env := envconfig.New(os.Getenv)
	env.String("DRIFT_ADDR", &c.Addr)
	env.String("NATS_URL", &c.NATSURL)
	env.String("DRIFT_REFERENCE", &c.Reference)
	env.List("KAFKA_BROKERS", &c.Brokers)
	env.Duration("DRIFT_INTERVAL", &c.Interval)
	env.Duration("DRIFT_CURRENT_SPAN", &c.CurrentSpan)
	env.Int("DRIFT_REFERENCE_EVENTS", &c.ReferenceEvents)
	env.Int("DRIFT_CURRENT_EVENTS", &c.CurrentEvents)
	env.Time("DRIFT_REFERENCE_FROM", &c.ReferenceFrom)
	env.Time("DRIFT_REFERENCE_TO", &c.ReferenceTo)
	env.Bool("DRIFT_RETRAIN_ON_DRIFT", &c.RetrainOnDrift)
	return env.Err()
}

// timeFlag parses an RFC 3339 flag value into dst.
func timeFlag(dst *time.Time) func(string) error {
	return func(s string) (err error) {
		*dst, err = time.Parse(time.RFC3339, s)
		return err
	}
}
