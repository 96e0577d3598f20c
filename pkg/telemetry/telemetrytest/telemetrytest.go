// Package telemetrytest checks a running service's HTTP metrics under real
// traffic: after concurrent requests of mixed methods and routes, the
// registry must still gather and every label value must be one the service
// can produce.
package telemetrytest

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Request is one request of the traffic mix.
type Request struct {
	Method, Path, Body string
}

// MixedTraffic sends every request of mix rounds times from workers
// goroutines at once to baseURL (http://host:port), then gathers g and
// fails t when gathering fails or a swipeflix_http_* series has a method
// or endpoint label outside the known sets.
func MixedTraffic(t testing.TB, baseURL string, mix []Request, rounds, workers int, g prometheus.Gatherer, methods, endpoints []string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				req := mix[(w+r)%len(mix)]
				hr, err := http.NewRequest(req.Method, baseURL+req.Path, strings.NewReader(req.Body))
				if err != nil {
					t.Error(err)
					return
				}
				if req.Body != "" {
					hr.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(hr)
				if err != nil {
					t.Errorf("%s %s: %v", req.Method, req.Path, err)
					return
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining only
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather after mixed traffic: %v", err)
	}
	known := map[string]map[string]bool{"method": set(methods), "endpoint": set(endpoints)}
	seen := 0
	for _, mf := range families {
		if !strings.HasPrefix(mf.GetName(), "swipeflix_http_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			seen++
			for _, lp := range m.GetLabel() {
				if allowed, ok := known[lp.GetName()]; ok && !allowed[lp.GetValue()] {
					t.Errorf("%s has %s=%q, not one the service produces (%v)", mf.GetName(), lp.GetName(), lp.GetValue(), keys(allowed))
				}
			}
		}
	}
	if seen == 0 {
		t.Error("no swipeflix_http_* series after the traffic")
	}
}

func set(vs []string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
