package main

import (
	"net"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

// The swipe deck page is served by the api and posts swipes to ingest,
// which in the one-binary run listens on another port of the same host.
// pageDefaults makes `make run` work with no setup: the page learns
// ingest's port from the api, and ingest lets the api's page post to it.
// API_INGEST_URL and INGEST_CORS_ORIGINS (or their flags) override them.
func (c *Config) pageDefaults(s *envconfig.Settings) {
	if !s.Given("api.ingest-url") {
		if port := listenPort(c.Ingest.Addr); port != "" {
			c.API.Deck.IngestURL = ":" + port
		}
	}
	if !s.Given("ingest.cors-origins") {
		c.Ingest.CORSOrigins = pageOrigins(c.API.Addr)
	}
}

// listenPort is the fixed port of a listen address, "" for none or 0.
func listenPort(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" && port != "0" {
		return port
	}
	return ""
}

// pageOrigins are the origins of the api's page on this machine
// (localhost, 127.0.0.1 and [::1] on the api's port), which ingest allows.
func pageOrigins(apiAddr string) []string {
	port := listenPort(apiAddr)
	if port == "" {
		return nil
	}
	var out []string
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
		out = append(out, "http://"+host+":"+port)
	}
	return out
}
