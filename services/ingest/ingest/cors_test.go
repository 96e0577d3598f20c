package ingest_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

// CORS: a preflight is answered before the token check (it was 405);
// only configured origins get permission, and an allowed browser's swipe
// is accepted into Kafka with the permission on the answer.
func TestCORS(t *testing.T) {
	preflight := []string{"Origin", "http://localhost:8000", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,authorization"}

	none := newFixture(t, []string{"127.0.0.1:1"}, func(c *ingest.Config) { c.Tokens = []string{"tok"} })
	if r := none.do(t, "OPTIONS", "/v1/swipes", "", preflight...); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins configured: preflight %d %v", r.status, r.header)
	}

	if testing.Short() {
		t.Skip("the allowed origin's swipe goes to an embedded Kafka")
	}
	k := embeddedtest.StartTestKafka(t)
	f := newFixture(t, k.Brokers(), func(c *ingest.Config) {
		c.Tokens = []string{"tok"}
		c.CORSOrigins = []string{"http://localhost:8000", "http://127.0.0.1:8000"}
	})
	r := f.do(t, "OPTIONS", "/v1/swipes", "", preflight...)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:8000" ||
		r.header.Get("Access-Control-Allow-Headers") != "Content-Type,Authorization" {
		t.Errorf("allowed origin: preflight %d %v", r.status, r.header)
	}
	if r := f.do(t, "OPTIONS", "/v1/swipes", "", "Origin", "http://localhost:9999", "Access-Control-Request-Method", "POST"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin got permission: %v", r.header)
	}
	r = f.do(t, "POST", "/v1/swipes", swipe("cors-1", "web", "1", "like"),
		"Origin", "http://127.0.0.1:8000", "Content-Type", "application/json", "Authorization", "Bearer tok")
	if r.status != 202 || r.header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8000" {
		t.Fatalf("allowed origin's swipe: %d %s %v", r.status, r.body, r.header)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if m := readAll(ctx, t, k.Brokers(), 1); string(m[0].Key) != "web" {
		t.Errorf("in Kafka: %q", m[0].Key)
	}
	// Without a token the browser's swipe is still refused.
	if r := f.do(t, "POST", "/v1/swipes", swipe("cors-2", "web", "1", "like"), "Origin", "http://127.0.0.1:8000"); r.status != 401 {
		t.Errorf("without a token: %d", r.status)
	}
}

func TestCORSOriginsValidated(t *testing.T) {
	for _, o := range []string{"localhost:8000", "ftp://x", "http://a.example/app"} {
		cfg := ingest.DefaultConfig()
		cfg.CORSOrigins = []string{o}
		if err := cfg.Validate(); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
	cfg := ingest.DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string {
		return map[string]string{"INGEST_CORS_ORIGINS": "http://a.example, *"}[k]
	})
	cfg.RegisterSettings(s)
	if err := s.Parse(nil); err != nil || len(cfg.CORSOrigins) != 2 || cfg.Validate() != nil {
		t.Fatalf("from env: %v %v", cfg.CORSOrigins, err)
	}
}
