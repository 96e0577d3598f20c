package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBenchScale runs bench-scale end to end on a tiny dataset (10,000 ratings, 400 movies), with this
// test binary as the broker, trainer and api processes, and checks that the
// JSON object has every field with a plausible value and that the table
// has every row. It asserts no timing.
func TestBenchScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers, a trainer and an api")
	}
	t.Setenv(runMainEnv, "1") // the children run main(), not the tests
	t.Setenv("SWIPEFLIX_LOG_LEVEL", "warn")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := realMain(ctx, []string{"bench-scale", "-ratings", "10000", "-movies", "400", "-json", "-quiet", "-dir", t.TempDir(),
		"-requests", "50", "-swipes", "2", "-timeout", "3m"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench-scale: %v\n%s", err, stderr.String())
	}

	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
	}
	zero, _ := json.Marshal(benchResult{})
	var keys map[string]any
	if err := json.Unmarshal(zero, &keys); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}

	var r benchResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Ratings != 10000 || r.Users != 65 || r.Movies != 400 || r.DataCached {
		t.Errorf("dataset %d ratings, %d users, %d movies, cached %v: want 10000, 65, 400, freshly generated",
			r.Ratings, r.Users, r.Movies, r.DataCached)
	}
	positive := map[string]float64{
		"publish_seconds": r.PublishSeconds, "publish_events_per_sec": r.PublishEventsPerSec,
		"trainer_catch_up_seconds": r.TrainerCatchUpSeconds, "trainer_apply_events_per_sec": r.TrainerApplyEventsPerSec,
		"covering_model_seconds": r.CoveringModelSeconds, "covering_model_version": float64(r.CoveringModelVersion),
		"models_published_until_covering": float64(r.ModelsDuringCatchUp),
		"refit_seconds":                   r.RefitSeconds, "snapshot_bytes": float64(r.SnapshotBytes),
		"predict_p50_ms": r.PredictP50Ms, "predict_p99_ms": r.PredictP99Ms,
		"swipe_freshness_p50_ms": r.SwipeFreshnessP50Ms, "swipe_freshness_max_ms": r.SwipeFreshnessMaxMs,
		"total_seconds": r.TotalSeconds, "machine.cpus": float64(r.Machine.CPUs),
	}
	if runtime.GOOS == "linux" { // memory comes from /proc
		positive["trainer_peak_rss_bytes"] = float64(r.TrainerPeakRSSBytes)
		positive["trainer_rss_bytes"] = float64(r.TrainerRSSBytes)
		positive["api_rss_bytes"] = float64(r.APIRSSBytes)
		positive["api_peak_rss_bytes"] = float64(r.APIPeakRSSBytes)
		positive["broker_peak_rss_bytes"] = float64(r.BrokerPeakRSSBytes)
		positive["trainer_peak_rss_mb_per_million_ratings"] = r.TrainerPeakRSSMBPerMillion
		positive["api_rss_mb_per_million_ratings"] = r.APIRSSMBPerMillion
		positive["machine.mem_total_bytes"] = float64(r.Machine.MemTotalBytes)
	}
	for name, v := range positive {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if r.PredictRequests != 50 || r.PredictErrors != 0 {
		t.Errorf("%d /predict requests with %d errors, want 50 without error", r.PredictRequests, r.PredictErrors)
	}
	if r.PredictP99Ms < r.PredictP50Ms || r.SwipeFreshnessMaxMs < r.SwipeFreshnessP50Ms {
		t.Errorf("a p99 or max under its p50: predict %v/%v ms, freshness %v/%v ms",
			r.PredictP50Ms, r.PredictP99Ms, r.SwipeFreshnessP50Ms, r.SwipeFreshnessMaxMs)
	}
	if r.TrainerPeakRSSBytes < r.TrainerRSSBytes || r.APIPeakRSSBytes < r.APIRSSBytes {
		t.Errorf("a peak RSS under the RSS: trainer %d < %d or api %d < %d",
			r.TrainerPeakRSSBytes, r.TrainerRSSBytes, r.APIPeakRSSBytes, r.APIRSSBytes)
	}
	switch {
	case strings.HasPrefix(r.RefitResult, "published v"):
		if r.APISwapSeconds == nil || *r.APISwapSeconds <= 0 {
			t.Errorf("refit %s but api_load_swap_seconds = %v", r.RefitResult, r.APISwapSeconds)
		}
	case r.RefitResult == "" || r.APISwapSeconds != nil:
		t.Errorf("refit result %q with api_load_swap_seconds %v", r.RefitResult, r.APISwapSeconds)
	}
	if r.SwapErrors < 0 || r.SwapErrors > r.SwapRequests || (r.APISwapSeconds != nil && r.SwapRequests == 0) {
		t.Errorf("%d of %d requests failed during the refit and swap", r.SwapErrors, r.SwapRequests)
	}
	if r.SwipeFreshnessCatchUpMs != nil && *r.SwipeFreshnessCatchUpMs <= 0 {
		t.Errorf("swipe_freshness_catching_up_ms = %v", *r.SwipeFreshnessCatchUpMs)
	}
	if r.Date == "" || r.Machine.Go == "" {
		t.Errorf("date %q, go %q: want both", r.Date, r.Machine.Go)
	}

	var table bytes.Buffer
	printBenchTable(&table, &r)
	for _, row := range []string{"| publish |", "| trainer apply while behind |", "| first model covering every event |",
		"| full tuned refit |", "| trainer peak RSS |", "| snapshot |", "| api load + swap |", "| /predict during the refit and swap |", "| api RSS (peak) |",
		"| /predict uncached p50 / p99 |", "| swipe freshness, caught up (p50 / max) |", "| swipe freshness while catching up |",
		"| trainer peak RSS per million ratings |", "| api RSS per million ratings |", "machine: "} {
		if !strings.Contains(table.String(), row) {
			t.Errorf("table has no row %q:\n%s", row, table.String())
		}
	}
}

func TestBenchScaleBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-size", "5M"}, `-size "5M": want 1M, 10M or 25M`},
		{[]string{"-ratings", "-3"}, "-ratings must be > 0"},
		{[]string{"-requests", "0"}, "-requests and -swipes >= 1"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out bytes.Buffer
		err := realMain(context.Background(), append([]string{"bench-scale", "-dir", t.TempDir()}, tc.args...), nil, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}
