package ingest_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

// BenchmarkPostBatch measures one POST /v1/ratings of a batch, decode to
// acknowledged write, against the embedded broker.
func BenchmarkPostBatch(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			k := embeddedtest.StartTestKafka(b)
			cfg := ingest.DefaultConfig()
			cfg.Brokers = k.Brokers()
			reg := prometheus.NewRegistry()
			svc, err := ingest.New(cfg, ingest.Deps{Registerer: reg, Gatherer: reg})
			if err != nil {
				b.Fatal(err)
			}
			lines := make([]string, n)
			for i := range lines {
				lines[i] = rating(fmt.Sprint("e", i), fmt.Sprint("u", i%50), fmt.Sprint("m", i), 4)
			}
			body := strings.Join(lines, "\n")
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := svc.App().Test(httptest.NewRequest("POST", "/v1/ratings", strings.NewReader(body)), -1)
				if err != nil || resp.StatusCode != 202 {
					b.Fatalf("status %v, %v", resp.StatusCode, err)
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
