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

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		inference: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swipeflix_inference_duration_seconds",
			Help:    "Time the model takes to rank one /predict request.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25},
		}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_predictions_total",
			Help: "Answered /predict requests, by kind (personal, cold_start).",
		}, []string{"kind"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_model_swaps_total",
			Help: "Model snapshots swapped in (ok) or refused (bad checksum, format or download).",
		}, []string{"result"}),
		deltas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swipeflix_model_deltas_applied_total",
			Help: "Trainer deltas applied to the serving model.",
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swipeflix_freshness_seconds",
			Help:    "Time from the newest event in a delta to the delta applied in the api.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		fallback: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swipeflix_model_fallback",
			Help: "1 while the api serves an older model because the current one does not load.",
		}),
	}
	var err error
	if m.http, err = telemetry.NewHTTP(reg, serviceName); err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	if m.model, err = telemetry.NewModel(reg, serviceName); err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{m.inference, m.predictions, m.swaps, m.deltas, m.freshness, m.fallback} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
	}
	m.personal = m.predictions.WithLabelValues("personal")
	m.coldStart = m.predictions.WithLabelValues("cold_start")
	m.swapOK = m.swaps.WithLabelValues("ok")
	m.swapRefused = m.swaps.WithLabelValues("refused")
	return m, nil
}
