package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	ready := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			w.WriteHeader(http.StatusOK)
		case "/starting":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ready", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(ready)
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"2xx", []string{srv.URL + "/ready"}, ""},
		{"redirect followed", []string{srv.URL + "/moved"}, ""},
		{"503", []string{srv.URL + "/starting"}, "status 503"},
		{"404", []string{srv.URL + "/nope"}, "status 404"},
		{"no url", nil, "exactly one URL"},
		{"two urls", []string{"a", "b"}, "exactly one URL"},
		{"bad flag", []string{"-timeout", "soon", srv.URL}, "invalid value"},
		{"bad url", []string{"http://[::1"}, "build request"},
		{"refused", []string{closedURL(t)}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := realMain(context.Background(), tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("realMain(%q) = %v, want nil", tt.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("realMain(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestProbeGivesUpAtTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	err := probe(context.Background(), srv.Client(), srv.URL, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("probe of a server that never answers = %v, want a deadline error", err)
	}
}

// closedURL returns the URL of a listener that is already closed, so connecting is refused.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	return url
}
