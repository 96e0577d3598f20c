package main

import (
	"net"
	"os"

	"github.com/swipeflix/swipeflix/services/api/api"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

// The swipe deck page is served by the api and posts swipes to ingest,
// which in the one-binary run listens on another port of the same host.
// These two defaults make `make run` work with no setup: the page learns
// ingest's port from the api, and ingest lets the api's page post to it.
// API_INGEST_URL and INGEST_CORS_ORIGINS override them.

// pageIngestURL is ":PORT" of ingest's listen address (INGEST_ADDR or its
// default), which the api resolves against the host the page came from.
func pageIngestURL() string {
	cfg := ingest.DefaultConfig()
	_ = cfg.FromEnv() // a malformed variable is reported when ingest is built
	if _, port, err := net.SplitHostPort(cfg.Addr); err == nil && port != "" && port != "0" {
		return ":" + port
	}
	return api.DefaultConfig().Deck.IngestURL
}

// pageOrigins are the origins of the api's page on this machine
// (localhost, 127.0.0.1 and [::1] on the api's port), which ingest allows.
func pageOrigins() []string {
	cfg := api.DefaultConfig()
	if v := os.Getenv("API_ADDR"); v != "" {
		cfg.Addr = v
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	var out []string
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
		out = append(out, "http://"+host+":"+port)
	}
	return out
}
