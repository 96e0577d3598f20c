package main

import (
	"flag"
	"slices"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

// parsed is the one binary's configuration from args and env.
func parsed(t *testing.T, env map[string]string, args ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	getenv := func(k string) string { return env[k] }
	s := envconfig.NewSettings(fs, getenv)
	cfg.RegisterSettings(s)
	if err := s.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg.pageDefaults(s)
	return cfg
}

// The one-binary defaults that let the page at / post swipes to ingest.
func TestDeckWiring(t *testing.T) {
	c := parsed(t, nil)
	if c.API.Deck.IngestURL != ":8001" {
		t.Errorf("default ingest URL %q, want :8001", c.API.Deck.IngestURL)
	}
	if !slices.Equal(c.Ingest.CORSOrigins, []string{"http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"}) {
		t.Errorf("default origins %v", c.Ingest.CORSOrigins)
	}
	c = parsed(t, map[string]string{"API_ADDR": "0.0.0.0:9000", "INGEST_ADDR": "127.0.0.1:9001"})
	if c.API.Deck.IngestURL != ":9001" || len(c.Ingest.CORSOrigins) != 3 || c.Ingest.CORSOrigins[0] != "http://localhost:9000" {
		t.Errorf("moved ports: ingest URL %q, origins %v", c.API.Deck.IngestURL, c.Ingest.CORSOrigins)
	}
	if c := parsed(t, map[string]string{"API_ADDR": "127.0.0.1:0"}); c.Ingest.CORSOrigins != nil {
		t.Errorf("a random api port gave origins %v", c.Ingest.CORSOrigins)
	}
	c = parsed(t, map[string]string{"API_INGEST_URL": "https://swipes.example.com"}, "-ingest.cors-origins", "https://app.example.com")
	if c.API.Deck.IngestURL != "https://swipes.example.com" || !slices.Equal(c.Ingest.CORSOrigins, []string{"https://app.example.com"}) {
		t.Errorf("explicit settings overridden: %q, %v", c.API.Deck.IngestURL, c.Ingest.CORSOrigins)
	}
}
