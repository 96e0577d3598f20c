// Package api is the SwipeFlix serving service (Fiber): POST /predict and
// the read endpoints over the serving model, which it loads from the NATS
// model bus at start, replaces atomically whenever the KV manifest
// `current` changes (new versions and rollbacks alike) and keeps fresh with
// the trainer's deltas between snapshots.
package api

import (
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// Config configures the api service. DefaultConfig fills every field;
// RegisterFlags and FromEnv override them.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string
	// NATSURL is the model bus; unused when Deps.Source is given.
	NATSURL string
	// BodyLimit caps a request body in bytes; larger requests get 413.
	BodyLimit int
	// CacheEntries bounds the answers cached per serving model (about 1 KB
	// each for top_k 10); 0 turns the cache off.
	CacheEntries int
	// DefaultTopK is the number of recommendations when top_k is absent.
	DefaultTopK int
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish once the service is asked to stop.
	ShutdownTimeout time.Duration
	// RetryBackoff is the wait before retrying a snapshot download that
	// failed for a reason other than a bad checksum or format, or before
	// re-opening a lost manifest watch or delta subscription.
	RetryBackoff time.Duration
	// Limits are the HTTP server's timeouts and connection cap.
	Limits svcmain.HTTPLimits
	// Deck configures the swipe deck, the page at / and CORS (deckconfig.go).
	Deck DeckConfig
	// Pprof serves net/http/pprof under /debug/pprof/ on the HTTP address,
	// without authentication: for profiling on a trusted network only.
	Pprof bool
}

// DefaultConfig is the configuration of the embedded run.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8000",
		NATSURL:         "nats://127.0.0.1:4222",
		BodyLimit:       64 << 10,
		DefaultTopK:     10,
		CacheEntries:    50000,
		ShutdownTimeout: 10 * time.Second,
		RetryBackoff:    2 * time.Second,
		Limits:          svcmain.DefaultHTTPLimits(),
		Deck:            defaultDeckConfig(),
	}
}

// Validate names the first settings that are wrong.
func (c Config) Validate() error {
	var p envconfig.Problems
	p.Require("addr", c.Addr)
	if c.BodyLimit < 256 {
		p.Add("body limit", "must be >= 256 bytes, got %d", c.BodyLimit)
	}
	if c.DefaultTopK < 1 || c.DefaultTopK > 1000 {
		p.Add("default top_k", "must be 1..1000, got %d", c.DefaultTopK)
	}
	if c.CacheEntries < 0 {
		p.Add("cache entries", "must be >= 0, got %d", c.CacheEntries)
	}
	if c.ShutdownTimeout <= 0 {
		p.Add("shutdown timeout", "must be > 0, got %s", c.ShutdownTimeout)
	}
	if c.RetryBackoff <= 0 {
		p.Add("retry backoff", "must be > 0, got %s", c.RetryBackoff)
	}
	c.Deck.validate(&p)
	return p.Err()
}

// RegisterSettings declares the api's own settings, each once with its
// flag and environment variable. The NATS server is the infrastructure's
// (package modules).
func (c *Config) RegisterSettings(s *envconfig.Settings) {
	s.String(&c.Addr, "api.addr", "API_ADDR", "HTTP listen address of the api")
	s.Int(&c.BodyLimit, "api.body-limit", "API_BODY_LIMIT", "largest request body in bytes")
	s.Int(&c.DefaultTopK, "api.default-top-k", "API_DEFAULT_TOP_K", "recommendations returned when top_k is absent")
	s.Int(&c.CacheEntries, "api.cache-entries", "API_CACHE_ENTRIES", "answers cached per serving model (0 turns the cache off)")
	s.Duration(&c.ShutdownTimeout, "api.shutdown-timeout", "API_SHUTDOWN_TIMEOUT", "time in-flight requests get to finish at shutdown")
	s.Duration(&c.RetryBackoff, "api.retry-backoff", "API_RETRY_BACKOFF", "wait before retrying a failed download or a lost subscription")
	s.Bool(&c.Pprof, "api.pprof", "API_PPROF", "serve net/http/pprof under /debug/pprof/ on the api's HTTP address, unauthenticated (profiling only)")
	c.Deck.registerSettings(s)
}
