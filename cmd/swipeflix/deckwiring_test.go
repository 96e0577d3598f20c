package main

import (
	"slices"
	"testing"
)

// The one-binary defaults that let the page at / post swipes to ingest.
func TestDeckWiring(t *testing.T) {
	t.Setenv("API_ADDR", "")
	t.Setenv("INGEST_ADDR", "")
	if got := pageIngestURL(); got != ":8001" {
		t.Errorf("default ingest URL %q, want :8001", got)
	}
	if got := pageOrigins(); !slices.Equal(got, []string{"http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"}) {
		t.Errorf("default origins %v", got)
	}
	t.Setenv("API_ADDR", "0.0.0.0:9000")
	t.Setenv("INGEST_ADDR", "127.0.0.1:9001")
	if got := pageIngestURL(); got != ":9001" {
		t.Errorf("ingest URL %q, want :9001", got)
	}
	if got := pageOrigins(); len(got) != 3 || got[0] != "http://localhost:9000" {
		t.Errorf("origins %v", got)
	}
	t.Setenv("API_ADDR", "127.0.0.1:0")
	if got := pageOrigins(); got != nil {
		t.Errorf("a random api port gave origins %v", got)
	}
}
