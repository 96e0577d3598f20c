// Package driftsvc is the drift service: it consumes swipeflix.ratings in
// its own consumer group into a sliding current window, keeps a reference
// drawn from the events the serving model was trained on (or from a
// configured period), and every interval compares the two feature by
// feature (pkg/drift), then publishes the report on NATS, stores it,
// exports Prometheus gauges and serves it over HTTP as JSON and as an HTML
// page with charts. On dataset drift it can ask the trainer for a refit.
package driftsvc

import (
	"strconv"
	"time"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// Reference modes.
const (
	// RefModel: the events the serving model was trained on, below the
	// offsets of the manifest under the NATS KV key `current`; the current
	// window holds the events above them.
	RefModel = "model"
	// RefPeriod: the events with ReferenceFrom <= ts < ReferenceTo; the
	// current window holds the events at or after ReferenceTo.
	RefPeriod = "period"
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
	// NATSURL is the NATS server; reports go out on
	// modelbus.SubjectDriftReport.
	NATSURL string
	// RetrainOnDrift publishes a refit request on modelbus.SubjectRetrain when a
	// report turns to dataset drift (once per episode, not every report).
	RetrainOnDrift bool
	// RetrainToken goes with each retrain request, for a trainer that
	// requires it (SWIPEFLIX_RETRAIN_TOKEN, the same secret).
	RetrainToken string
	// MaxClockSkew is how far ahead of this clock an event time may be;
	// later events go to the dead-letter topic.
	MaxClockSkew time.Duration
	// Limits are the HTTP server's timeouts and connection cap.
	Limits svcmain.HTTPLimits
	// Interval between reports.
	Interval time.Duration
	// Reference is RefModel or RefPeriod. ReferenceEvents is the size of
	// the reference sample (see pkg/drift's Sampler) and Seed fixes which
	// events it holds.
	Reference       string
	ReferenceEvents int
	Seed            uint64
	ReferenceFrom   time.Time
	ReferenceTo     time.Time
	// CatalogRefresh is the least time between two reloads of the
	// catalog's genres, which the service reloads when a report counted
	// movies the catalog did not know (at every report while the catalog
	// is empty).
	CatalogRefresh time.Duration
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
		Topic:           kafkabus.Ratings,
		GroupID:         "swipeflix-drift",
		NATSURL:         "nats://127.0.0.1:4222",
		MaxClockSkew:    events.DefaultMaxSkew,
		Limits:          svcmain.DefaultHTTPLimits(),
		Interval:        30 * time.Second,
		Reference:       RefModel,
		ReferenceEvents: 1000,
		Seed:            1,
		CatalogRefresh:  time.Minute,
		CurrentEvents:   1000,
		MinCurrent:      100,
		Drift:           drift.DefaultConfig(),
	}
}

// Validate names the first setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	p.Require("addr", c.Addr)
	p.RequireSome("kafka brokers", c.Brokers)
	if c.Topic == "" || c.GroupID == "" {
		p.Add("topic/group", "both required")
	}
	p.Require("nats url", c.NATSURL)
	if c.Interval <= 0 {
		p.Add("interval", "must be > 0, got %s", c.Interval)
	}
	switch c.Reference {
	case RefModel:
	case RefPeriod:
		if !c.ReferenceFrom.Before(c.ReferenceTo) {
			p.Add("reference period", "from %s is not before to %s",
				c.ReferenceFrom.Format(time.RFC3339), c.ReferenceTo.Format(time.RFC3339))
		}
	case "first_n", "pinned":
		p.Add("reference", "%q was removed (the first events in arrival order are no deliberate reference): use %s "+
			"(the serving model's training events) or %s", c.Reference, RefModel, RefPeriod)
	default:
		p.Add("reference", "must be %s or %s, got %q", RefModel, RefPeriod, c.Reference)
	}
	if c.ReferenceEvents < 1 {
		p.Add("reference events", "must be >= 1, got %d", c.ReferenceEvents)
	}
	if c.CatalogRefresh <= 0 {
		p.Add("catalog refresh", "must be > 0, got %s", c.CatalogRefresh)
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

// RegisterSettings declares the drift service's own settings, each once
// with its flag and environment variable. The brokers and the NATS server
// are the infrastructure's (package modules).
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.Addr, "drift.addr", "DRIFT_ADDR", "HTTP listen address of the drift service")
	s.String(&c.GroupID, "drift.group", "DRIFT_GROUP", "Kafka consumer group of the drift service")
	s.Duration(&c.Interval, "drift.interval", "DRIFT_INTERVAL", "time between drift reports")
	s.String(&c.Reference, "drift.reference", "DRIFT_REFERENCE",
		"reference: model (the serving model's training events) or period (-drift.reference-from/-to)")
	s.Int(&c.ReferenceEvents, "drift.reference-events", "DRIFT_REFERENCE_EVENTS", "size of the reference sample")
	s.Var("drift.seed", "DRIFT_SEED", "seed of the reference sample", func(v string) (err error) {
		c.Seed, err = strconv.ParseUint(v, 10, 64)
		return err
	}, func() string { return strconv.FormatUint(c.Seed, 10) })
	s.Duration(&c.CatalogRefresh, "drift.catalog-refresh", "DRIFT_CATALOG_REFRESH",
		"least time between reloads of the catalog's genres when movies are missing")
	s.Time(&c.ReferenceFrom, "drift.reference-from", "DRIFT_REFERENCE_FROM", "start of the period reference (RFC 3339)")
	s.Time(&c.ReferenceTo, "drift.reference-to", "DRIFT_REFERENCE_TO", "end of the period reference (RFC 3339, exclusive)")
	s.Int(&c.CurrentEvents, "drift.current-events", "DRIFT_CURRENT_EVENTS", "events in the sliding current window")
	s.Duration(&c.CurrentSpan, "drift.current-span", "DRIFT_CURRENT_SPAN", "slide the current window by event time over this span instead of by count")
	s.Int(&c.MinCurrent, "drift.min-current", "DRIFT_MIN_CURRENT", "fewest current events a report is made from")
	s.Bool(&c.RetrainOnDrift, "drift.retrain-on-drift", "DRIFT_RETRAIN_ON_DRIFT", "ask the trainer for a refit when dataset drift starts")
	s.Secret(&c.RetrainToken, "SWIPEFLIX_RETRAIN_TOKEN")
}
