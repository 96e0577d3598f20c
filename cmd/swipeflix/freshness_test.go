package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
)

// freshnessData is ml-latest-small beside the repository: the repo root is
// two levels up from this package, the datasets ../shared/datasets from it.
var freshnessData = filepath.Join("..", "..", "..", "shared", "datasets", "ml-latest-small")

// BenchmarkFreshness measures how long a swipe takes to show in /predict:
// from the POST to ingest until /predict (polled every 5 ms, through the
// api's answer cache) returns the changed answer, with every service of the
// one process on embedded brokers, after the starter data (ml-latest-small
// when present, else a generated sample) is loaded and a model covering it
// is serving.
//
// Iterations alternate two kinds of event, each of which must change the
// answer: a brand-new user's first like (cold start turns personal) and a
// like by a known user of their current first recommendation (a seen movie
// is never recommended, so it must leave their list). Before each POST the
// user's answer is fetched once, so the stale answer sits in the cache and
// the delta's invalidation is part of what is measured.
//
// Run it with a fixed count; it reports p50, p90, p99 and max in ms:
//
//	go test -run '^$' -bench Freshness -benchtime 200x ./cmd/swipeflix
func BenchmarkFreshness(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, users, nRatings := freshnessDataset(b)
	const token = "freshness-bench"
	s := startStack(ctx, b, map[string]string{"SWIPEFLIX_CATALOG_DIR": dir, "SWIPEFLIX_ADMIN_TOKEN": token},
		"-target", "all", "-starter", filepath.Join(dir, "ratings.csv"))
	version := s.settle(ctx, b, nRatings, token)
	_, covered, err := s.servingManifest(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("data %s: %d ratings, %d users; serving model %s, fitted on %d of them", dir, nRatings, len(users), version, covered)

	freshBefore, err := s.freshnessHistogram(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var took, acked [2][]time.Duration // by kind: 0 new user, 1 known user
	nonce := time.Now().UnixNano()
	i := 0
	for b.Loop() {
		kind := i % 2
		user := fmt.Sprintf("fresh-%d-%d", nonce, i)
		if kind == 1 {
			user = users[(i/2)%len(users)]
		}
		before, err := s.predict(ctx, user)
		if err != nil {
			b.Fatal(err)
		}
		var movie string
		var changed func(proofAnswer) bool
		if kind == 0 {
			if !before.ColdStart {
				b.Fatalf("event %d: new user %s is not a cold start: %+v", i, user, before)
			}
			// Vary the movie: the i-th of the cold-start list, cycling.
			movie = before.Recommendations[(i/2)%len(before.Recommendations)].MovieID
			changed = func(a proofAnswer) bool { return !a.ColdStart }
		} else {
			if before.ColdStart || len(before.Recommendations) == 0 {
				b.Fatalf("event %d: known user %s has no personal answer: %+v", i, user, before)
			}
			movie = before.Recommendations[0].MovieID
			changed = func(a proofAnswer) bool { return !slices.Contains(a.movies(), movie) }
		}
		ev, err := events.Encode(events.NewSwipe(fmt.Sprintf("fresh-%d-%d", nonce, i), user, movie,
			events.Like, time.Now().UTC(), "freshness-bench"))
		if err != nil {
			b.Fatal(err)
		}

		start := time.Now()
		if err := s.postSwipes(ctx, string(ev)); err != nil {
			b.Fatalf("event %d: %v", i, err)
		}
		ack := time.Since(start)
		deadline := start.Add(30 * time.Second)
		for {
			a, err := s.predict(ctx, user)
			if err != nil {
				b.Fatalf("event %d: %v", i, err)
			}
			if changed(a) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("event %d: %s's answer did not change within 30 s of liking %s: %+v", i, user, movie, a)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took[kind] = append(took[kind], time.Since(start))
		acked[kind] = append(acked[kind], ack)
		i++
	}
	b.StopTimer()

	all := slices.Concat(took[0], took[1])
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"max", 1}} {
		b.ReportMetric(millis(quantile(all, q.p)), q.name+"-ms")
	}
	b.Logf("freshness over %d events (POST to changed /predict, ms):", len(all))
	b.Logf("%-22s %6s %8s %8s %8s %8s %14s", "events", "n", "p50", "p90", "p99", "max", "ingest-ack-p50")
	for _, row := range []struct {
		name     string
		took, ak []time.Duration
	}{
		{"all", all, slices.Concat(acked[0], acked[1])},
		{"new user, first like", took[0], acked[0]},
		{"known user, likes #1", took[1], acked[1]},
	} {
		if len(row.took) == 0 {
			continue
		}
		b.Logf("%-22s %6d %8.1f %8.1f %8.1f %8.1f %14.1f", row.name, len(row.took), millis(quantile(row.took, 0.5)),
			millis(quantile(row.took, 0.9)), millis(quantile(row.took, 0.99)), millis(quantile(row.took, 1)), millis(quantile(row.ak, 0.5)))
	}
	if freshAfter, err := s.freshnessHistogram(ctx); err == nil && freshAfter.count > freshBefore.count {
		b.Logf("api's swipeflix_freshness_seconds over the run: %d deltas, mean %.1f ms (event time to delta applied)",
			int(freshAfter.count-freshBefore.count), 1000*(freshAfter.sum-freshBefore.sum)/(freshAfter.count-freshBefore.count))
	}
	if v, err := s.servingVersion(ctx); err == nil && v != version {
		b.Logf("note: the serving model changed from %s to %s during the run", version, v)
	}
}

// freshnessDataset is the folder the benchmark starts from (ml-latest-small
// when present, else a generated sample of the same layout), its users, and
// its number of ratings.
func freshnessDataset(tb testing.TB) (dir string, users []string, n int) {
	tb.Helper()
	dir = freshnessData
	if _, err := os.Stat(filepath.Join(dir, "ratings.csv")); err != nil {
		dir = tb.TempDir()
		if err := dataset.Generate(dataset.SizedConfig(20000, 5)).WriteDir(dir, dataset.CSV); err != nil {
			tb.Fatalf("write sample data: %v", err)
		}
	}
	seen := map[string]bool{}
	err := dataset.ReadRatings(filepath.Join(dir, "ratings.csv"), func(r dataset.Rating) error {
		n++
		if !seen[r.User] {
			seen[r.User] = true
			users = append(users, r.User)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("read %s: %v", dir, err)
	}
	return dir, users, n
}

// settle waits until the trainer has consumed the n starter events, asks it
// for a refit (so that the serving model covers them all and no refit
// triggered by the load's growth is still to come), waits for that refit's
// outcome (published or refused by the quality gate) with the api serving the
// trainer's current version, and returns that version.
func (s *proofStack) settle(ctx context.Context, tb testing.TB, n int, adminToken string) string {
	tb.Helper()
	waitUntil(ctx, tb, fmt.Sprintf("the trainer to consume %d starter events", n), func() bool {
		got, err := s.metric(ctx, s.trainer, "swipeflix_trainer_events_total")
		return err == nil && got >= float64(n)
	})
	refits := func() float64 {
		v, err := s.metric(ctx, s.trainer, "swipeflix_model_refits_total")
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
	before := refits()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.trainer+"/v1/retrain?reason=freshness-bench", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("POST /v1/retrain: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("POST /v1/retrain: status %d", resp.StatusCode)
	}
	// A growth refit may still be running when the request arrives; the
	// requested one runs after it. Done when the api serves the trainer's
	// model and it covers all n events, or, if the gate refused the refit,
	// when the refit count has moved and then stood still for 15 s.
	var version string
	last, lastChange := before, time.Now()
	waitUntil(ctx, tb, "the requested refit to be served or refused", func() bool {
		if r := refits(); r != last {
			last, lastChange = r, time.Now()
		}
		v, covered, err := s.servingManifest(ctx)
		if err != nil {
			return false
		}
		var h struct {
			ModelVersion int64 `json:"model_version"`
		}
		if err := s.getJSON(ctx, s.trainer, "/health", &h); err != nil || v != fmt.Sprintf("v%d", h.ModelVersion) {
			return false
		}
		version = v
		return covered >= int64(n) || (last > before && time.Since(lastChange) > 15*time.Second)
	})
	return version
}

// getJSON decodes a 200 answer of GET addr+path into v.
func (s *proofStack) getJSON(ctx context.Context, addr, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// servingManifest reads the api's serving version and the events its
// manifest covers (the sum of its Kafka offsets).
func (s *proofStack) servingManifest(ctx context.Context) (version string, covered int64, err error) {
	var m struct {
		ModelVersion string `json:"model_version"`
		Manifest     struct {
			Offsets map[string]int64 `json:"offsets"`
		} `json:"manifest"`
	}
	if err := s.getJSON(ctx, s.api, "/v1/model", &m); err != nil {
		return "", 0, err
	}
	for _, o := range m.Manifest.Offsets {
		covered += o
	}
	return m.ModelVersion, covered, nil
}

func (s *proofStack) servingVersion(ctx context.Context) (string, error) {
	v, _, err := s.servingManifest(ctx)
	return v, err
}

// proofHistogram is a Prometheus histogram's running sum and count.
type proofHistogram struct{ sum, count float64 }

func (s *proofStack) freshnessHistogram(ctx context.Context) (proofHistogram, error) {
	var h proofHistogram
	var err error
	if h.sum, err = s.metric(ctx, s.api, "swipeflix_freshness_seconds_sum"); err != nil {
		return h, err
	}
	h.count, err = s.metric(ctx, s.api, "swipeflix_freshness_seconds_count")
	return h, err
}

// quantile is the nearest-rank p-quantile of ds (p in (0, 1]).
func quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := quantile(ds, tc.p); got != tc.want {
			t.Errorf("quantile(1..100 ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Errorf("quantile changed its input: %v", ds[:3])
	}
}
