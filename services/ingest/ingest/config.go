package ingest

import (
	"net/url"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
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
	// MaxClockSkew is how far ahead of this service's clock an event time
	// may be; later ones are refused with a 400 naming ts.
	MaxClockSkew time.Duration
	// MaxInflightBodyBytes bounds the request bodies being read at once;
	// a request that would pass it waits up to InflightWait, then gets 503.
	MaxInflightBodyBytes int64
	InflightWait         time.Duration
	// Limits are the HTTP server's timeouts and connection cap.
	Limits svcmain.HTTPLimits
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
		MaxClockSkew: events.DefaultMaxSkew,
		// Eight bodies of the largest size at once.
		MaxInflightBodyBytes: 8 * events.DefaultMaxBatchBytes,
		InflightWait:         2 * time.Second,
		Limits:               svcmain.DefaultHTTPLimits(),
	}
}

// Validate names every setting that is wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	p.Require("addr", c.Addr)
	p.RequireSome("kafka brokers", c.Brokers)
	p.Require("topic", c.Topic)
	if c.MaxBodyBytes <= 0 {
		p.Add("max body bytes", "must be > 0, got %d", c.MaxBodyBytes)
	}
	if c.KafkaTimeout <= 0 {
		p.Add("kafka timeout", "must be > 0, got %s", c.KafkaTimeout)
	}
	if c.MaxClockSkew < 0 {
		p.Add("max clock skew", "must be >= 0, got %s", c.MaxClockSkew)
	}
	if c.MaxInflightBodyBytes <= 0 || c.InflightWait <= 0 {
		p.Add("in-flight bodies", "budget and wait must be > 0, got %d bytes, %s", c.MaxInflightBodyBytes, c.InflightWait)
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

// RegisterSettings declares the service's own settings, each once with its
// flag and environment variable. The brokers and the clock skew are the
// infrastructure's (package modules), shared by every service. Tokens have
// no flag: command lines show up in ps.
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.Addr, "ingest.addr", "INGEST_ADDR", "HTTP listen address of the ingest service")
	s.SecretList(&c.Tokens, "SWIPEFLIX_INGEST_TOKENS")
	s.Int64(&c.MaxBodyBytes, "ingest.max-body-bytes", "INGEST_MAX_BODY_BYTES", "largest accepted request body in bytes")
	s.Duration(&c.KafkaTimeout, "ingest.kafka-timeout", "INGEST_KAFKA_TIMEOUT", "longest wait for Kafka's acknowledgement before answering 503")
	s.Int64(&c.MaxInflightBodyBytes, "ingest.max-inflight-body-bytes", "INGEST_MAX_INFLIGHT_BODY_BYTES", "request body bytes read at once, across requests")
	s.List(&c.CORSOrigins, "ingest.cors-origins", "INGEST_CORS_ORIGINS", "comma-separated origins allowed to post events from a browser (* for any; empty for none)")
}
