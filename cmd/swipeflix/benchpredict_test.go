package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchPredict runs bench-predict on a small generated dataset (the
// -data folder is absent) for a fraction of a second per phase and checks
// the report's shape: both phases, answered requests, no errors, deltas
// applied in the second. It asserts no timing.
func TestBenchPredict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"bench-predict", "-data", filepath.Join(t.TempDir(), "absent"), "-ratings", "3000",
		"-rates", "0,200", "-movies", "1", "-clients", "2", "-duration", "300ms", "-warmup", "100ms"}
	var stdout, stderr bytes.Buffer
	if err := realMain(ctx, append(args, "-json"), nil, &stdout, &stderr); err != nil {
		t.Fatalf("bench-predict: %v\n%s", err, stderr.String())
	}
	var r predictBench
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
	}
	if !strings.HasPrefix(r.Dataset, "generated") || r.Ratings == 0 || r.Users == 0 || len(r.Phases) != 2 {
		t.Fatalf("report %+v: want a generated dataset and two phases", r)
	}
	for _, p := range r.Phases {
		if p.Requests == 0 || p.Errors != 0 || p.P50Ms <= 0 || p.P99Ms < p.P50Ms || p.MaxMs < p.P999Ms {
			t.Errorf("phase %+v: want answered requests, no errors, ordered quantiles", p)
		}
	}
	if r.Phases[0].DeltasPerSec != 0 || r.Phases[1].DeltasAsked != 200 || r.Phases[1].DeltasPerSec == 0 {
		t.Errorf("deltas: %+v, %+v: want none, then some", r.Phases[0], r.Phases[1])
	}

	stdout.Reset()
	if err := realMain(ctx, args, nil, &stdout, &stderr); err != nil {
		t.Fatalf("bench-predict: %v\n%s", err, stderr.String())
	}
	if got := strings.Count(stdout.String(), "\n| 1 | "); got != 2 {
		t.Errorf("table has %d phase rows, want 2:\n%s", got, stdout.String())
	}
}
