package api

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const serviceName = "api"

// metrics are the api's Prometheus series (docs/metrics.md).
type metrics struct {
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	inference    prometheus.Histogram
	predictions  *prometheus.CounterVec
	versionInfo  *prometheus.GaugeVec
	age          *prometheus.GaugeVec
	swaps        *prometheus.CounterVec
	deltas       prometheus.Counter
	freshness    prometheus.Histogram

	// Resolved children of the hot path, so /predict does no label lookup.
	personal, coldStart prometheus.Counter
	swapOK, swapRefused prometheus.Counter
	ageAPI              prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_http_requests_total",
			Help: "HTTP requests served.",
		}, []string{"service", "method", "endpoint", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swipeflix_http_request_duration_seconds",
			Help:    "HTTP request latency.",
			Buckets: prometheus.DefBuckets,
		}, []string{"service", "method", "endpoint"}),
		inference: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swipeflix_inference_duration_seconds",
			Help:    "Time the model takes to rank one /predict request.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25},
		}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_predictions_total",
			Help: "Answered /predict requests, by kind (personal, cold_start).",
		}, []string{"kind"}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_model_version_info",
			Help: "1 for the model version a service serves or trains on.",
		}, []string{"service", "version"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_model_age_seconds",
			Help: "Seconds since the serving model's snapshot was created.",
		}, []string{"service"}),
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
	}
	var err error
	if m.httpRequests, err = register(reg, m.httpRequests); err != nil {
		return nil, err
	}
	if m.httpDuration, err = register(reg, m.httpDuration); err != nil {
		return nil, err
	}
	if m.versionInfo, err = register(reg, m.versionInfo); err != nil {
		return nil, err
	}
	if m.age, err = register(reg, m.age); err != nil {
		return nil, err
	}
	for _, c := range []prometheus.Collector{m.inference, m.predictions, m.swaps, m.deltas, m.freshness} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
	}
	m.personal = m.predictions.WithLabelValues("personal")
	m.coldStart = m.predictions.WithLabelValues("cold_start")
	m.swapOK = m.swaps.WithLabelValues("ok")
	m.swapRefused = m.swaps.WithLabelValues("refused")
	m.ageAPI = m.age.WithLabelValues(serviceName)
	return m, nil
}

// setVersion makes version the only one the api reports as served.
func (m *metrics) setVersion(version string) {
	m.versionInfo.DeletePartialMatch(prometheus.Labels{"service": serviceName})
	m.versionInfo.WithLabelValues(serviceName, version).Set(1)
}

// register registers c, or returns the identical collector already there:
// the HTTP and model series are shared by the services of one process (one
// registry), and each sets its own `service` label value.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register api metrics: %w", err)
	}
	return c, nil
}
