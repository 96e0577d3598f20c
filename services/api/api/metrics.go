package api

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

const serviceName = "api"

// metrics are the api's Prometheus series (docs/metrics.md).
type metrics struct {
	inference   prometheus.Histogram
	predictions *prometheus.CounterVec
	swaps       *prometheus.CounterVec
	deltas      prometheus.Counter
	freshness   prometheus.Histogram
	fallback    prometheus.Gauge
	// Shared with the other services of the process (one registry).
	http  *telemetry.HTTP
	model *telemetry.Model

	// Resolved children of the hot path, so /predict does no label lookup.
	personal, coldStart prometheus.Counter
	swapOK, swapRefused prometheus.Counter
}

// Bucket bounds in seconds: ranking one request takes well under a
// millisecond; a delta reaches the api within seconds.
var (
	inferenceBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25}
	freshnessBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	s := telemetry.NewSeries(reg)
	m := &metrics{
		inference:   s.Histogram("swipeflix_inference_duration_seconds", "Time the model takes to rank one /predict request.", inferenceBuckets),
		predictions: s.CounterVec("swipeflix_predictions_total", "Answered /predict requests, by kind (personal, cold_start).", "kind"),
		swaps:       s.CounterVec("swipeflix_model_swaps_total", "Model snapshots swapped in (ok) or refused (bad checksum, format or download).", "result"),
		deltas:      s.Counter("swipeflix_model_deltas_applied_total", "Trainer deltas applied to the serving model."),
		freshness:   s.Histogram("swipeflix_freshness_seconds", "Time from the newest event in a delta to the delta applied in the api.", freshnessBuckets),
		fallback:    s.Gauge("swipeflix_model_fallback", "1 while the api serves an older model because the current one does not load."),
		http:        s.HTTP(serviceName),
		model:       s.Model(serviceName),
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	m.personal, m.coldStart = m.predictions.WithLabelValues("personal"), m.predictions.WithLabelValues("cold_start")
	m.swapOK, m.swapRefused = m.swaps.WithLabelValues("ok"), m.swaps.WithLabelValues("refused")
	return m, nil
}
