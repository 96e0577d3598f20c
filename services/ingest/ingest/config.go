package ingest

import (
	"flag"
	"net/url"
	"os"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// Config configures the ingest service. DefaultConfig fills every field;
// RegisterFlags and FromEnv override them.
type Config struct {
	// Addr is the HTTP listen address (INGEST_ADDR).
	Addr string
	// Brokers are the Kafka bootstrap addresses (KAFKA_BROKERS).
	Brokers []string
	// Topic receives the accepted events.
	Topic string
	// Tokens, when not empty, are the bearer tokens a client must present
	// on /v1/* (SWIPEFLIX_INGEST_TOKENS, comma-separated). Never logged.
	Tokens []string
	// MaxBodyBytes is the largest request body; larger gets 413.
	MaxBodyBytes int64
	// KafkaTimeout bounds the wait for Kafka's acknowledgement; past it the
	// request gets 503.
	KafkaTimeout time.Duration
	// RetryAfter is the Retry-After advice sent with a 503.
	RetryAfter time.Duration
	// CORSOrigins are the origins (scheme://host[:port], "*" for any) whose
	// pages may post events from a browser (INGEST_CORS_ORIGINS); empty
	// allows none. The one-binary run allows the api's own page.
	CORSOrigins []string
}

// DefaultConfig is the configuration of the embedded run.
func DefaultConfig() Config {
	return Config{
		Addr:         ":8001",
		Brokers:      []string{"127.0.0.1:9092"},
		Topic:        kafkabus.Ratings,
		MaxBodyBytes: events.DefaultMaxBatchBytes,
		KafkaTimeout: 3 * time.Second,
		RetryAfter:   5 * time.Second,
	}
}

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	if c.Addr == "" {
		p.Add("addr", "required")
	}
	if len(c.Brokers) == 0 {
		p.Add("kafka brokers", "at least one is required")
	}
	if c.Topic == "" {
		p.Add("topic", "required")
	}
	if c.MaxBodyBytes <= 0 {
		p.Add("max body bytes", "must be > 0, got %d", c.MaxBodyBytes)
	}
	if c.KafkaTimeout <= 0 {
		p.Add("kafka timeout", "must be > 0, got %s", c.KafkaTimeout)
	}
	if c.RetryAfter < time.Second {
		p.Add("retry after", "must be >= 1s, got %s", c.RetryAfter)
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/")) {
			p.Add("cors origins", "%q: want scheme://host[:port] or *", o)
		}
	}
	for i, t := range c.Tokens {
		if t == "" {
			p.Add("tokens", "token %d is empty", i)
		}
	}
	return p.Err()
}

// RegisterFlags binds the settings to flags on fs, with c's values as
// defaults. Tokens have no flag: command lines show up in ps.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "ingest.addr", c.Addr, "HTTP listen address of the ingest service")
	envconfig.ListVar(fs, &c.Brokers, "ingest.kafka-brokers", "comma-separated Kafka brokers")
	fs.Int64Var(&c.MaxBodyBytes, "ingest.max-body-bytes", c.MaxBodyBytes, "largest accepted request body")
	fs.DurationVar(&c.KafkaTimeout, "ingest.kafka-timeout", c.KafkaTimeout, "longest wait for Kafka's acknowledgement before answering 503")
	envconfig.ListVar(fs, &c.CORSOrigins, "ingest.cors-origins", "comma-separated origins allowed to post events from a browser (* for any; empty for none)")
}

// FromEnv overrides c from INGEST_ADDR, KAFKA_BROKERS,
// SWIPEFLIX_INGEST_TOKENS, INGEST_MAX_BODY_BYTES, INGEST_KAFKA_TIMEOUT and
// INGEST_CORS_ORIGINS.
// A malformed value is an error naming the variable.
func (c *Config) FromEnv() error {
	env := envconfig.New(os.Getenv)
	env.String("INGEST_ADDR", &c.Addr)
	env.List("KAFKA_BROKERS", &c.Brokers)
	env.List("SWIPEFLIX_INGEST_TOKENS", &c.Tokens)
	env.Int64("INGEST_MAX_BODY_BYTES", &c.MaxBodyBytes)
	env.Duration("INGEST_KAFKA_TIMEOUT", &c.KafkaTimeout)
	env.List("INGEST_CORS_ORIGINS", &c.CORSOrigins)
	return env.Err()
}
