package svcmain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

type run struct {
	env            map[string]string
	stdout, stderr bytes.Buffer
}

func (r *run) exec(t *testing.T, p svcmain.Program, args ...string) int {
	t.Helper()
	return p.Exec(context.Background(), args, svcmain.OS{
		Getenv: func(k string) string { return r.env[k] }, Stdout: &r.stdout, Stderr: &r.stderr,
	})
}

func TestExecRunsWithArgsAndAJSONLogger(t *testing.T) {
	var got []string
	p := svcmain.Program{Name: "api", Version: "v1.2.3", Run: func(_ context.Context, args []string, log *slog.Logger) error {
		got = args
		log.Info("serving", "addr", ":8000")
		log.Debug("hidden at info")
		return nil
	}}
	var r run
	if code := r.exec(t, p, "-api.addr", ":8000"); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, r.stderr.String())
	}
	if strings.Join(got, " ") != "-api.addr :8000" {
		t.Errorf("run got args %q", got)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the start line and one info line, got:\n%s", r.stderr.String())
	}
	var start map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &start); err != nil {
		t.Fatalf("start line is not JSON: %v", err)
	}
	if start["program"] != "api" || start["version"] != "v1.2.3" {
		t.Errorf("start line %v, want program api and version v1.2.3", start)
	}
}

func TestLogLevelFromTheEnvironment(t *testing.T) {
	p := svcmain.Program{Name: "drift", Run: func(_ context.Context, _ []string, log *slog.Logger) error {
		log.Debug("detail")
		return nil
	}}
	r := run{env: map[string]string{"SWIPEFLIX_LOG_LEVEL": "debug"}}
	if code := r.exec(t, p); code != 0 || !strings.Contains(r.stderr.String(), `"msg":"detail"`) {
		t.Errorf("debug level: exit %d, stderr %s", code, r.stderr.String())
	}

	called := false
	p.Run = func(context.Context, []string, *slog.Logger) error { called = true; return nil }
	r = run{env: map[string]string{"SWIPEFLIX_LOG_LEVEL": "loud"}}
	if code := r.exec(t, p); code != 1 || called {
		t.Errorf("bad level: exit %d, run called %v; want 1 and not called", code, called)
	}
	if want := `drift: SWIPEFLIX_LOG_LEVEL="loud": want debug, info, warn or error`; !strings.Contains(r.stderr.String(), want) {
		t.Errorf("stderr %q, want %q", r.stderr.String(), want)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"clean stop", nil, 0, ""},
		{"help", flag.ErrHelp, 0, ""},
		{"failure", errors.New("listen :8001: address in use"), 1, "ingest: listen :8001: address in use\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := svcmain.ExitCode(&stderr, "ingest", tc.err); code != tc.code || stderr.String() != tc.stderr {
				t.Errorf("ExitCode(%v) = %d, stderr %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	p := svcmain.Program{Name: "trainer", Version: "v0.9.0", Run: func(context.Context, []string, *slog.Logger) error {
		return errors.New("run must not be called for -version")
	}}
	var r run
	if code := r.exec(t, p, "-version"); code != 0 || r.stdout.String() != "trainer v0.9.0\n" {
		t.Errorf("-version: exit %d, stdout %q, stderr %q", code, r.stdout.String(), r.stderr.String())
	}
}

func TestRunSeesTheContextEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := svcmain.Program{Name: "api", Run: func(ctx context.Context, _ []string, _ *slog.Logger) error {
		<-ctx.Done() // a service stops when its context ends, cleanly
		return nil
	}}
	var stdout, stderr bytes.Buffer
	if code := p.Exec(ctx, nil, svcmain.OS{Getenv: func(string) string { return "" }, Stdout: &stdout, Stderr: &stderr}); code != 0 {
		t.Errorf("exit %d after the context ended, want 0; stderr %s", code, stderr.String())
	}
}

func TestUsageErrorExitsTwo(t *testing.T) {
	var stderr bytes.Buffer
	code := svcmain.ExitCode(&stderr, "swipeflix", svcmain.Usagef("usage: swipeflix ...\n", "unknown subcommand %q", "synth"))
	if code != 2 || !strings.Contains(stderr.String(), `unknown subcommand "synth"`) || !strings.Contains(stderr.String(), "usage: swipeflix") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if code := svcmain.ExitCode(&stderr, "x", errors.New("boom")); code != 1 {
		t.Errorf("a plain error exits %d, want 1", code)
	}
	if code := svcmain.ExitCode(&stderr, "x", fmt.Errorf("wrapped: %w", flag.ErrHelp)); code != 0 {
		t.Errorf("help exits %d, want 0", code)
	}
}
