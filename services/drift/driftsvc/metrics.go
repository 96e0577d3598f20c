package driftsvc

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/drift"
)

const serviceName = "drift"

// metrics are the drift service's Prometheus series (docs/metrics.md).
type metrics struct {
	score          prometheus.Gauge
	featureScore   *prometheus.GaugeVec
	featureDrifted *prometheus.GaugeVec
	datasetDrift   prometheus.Gauge
	reports        prometheus.Counter
	lag            *prometheus.GaugeVec
	dlq            *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		score: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swipeflix_drift_score",
			Help: "Share of drifted features in the latest drift report.",
		}),
		featureScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_drift_feature_score",
			Help: "Latest drift score per feature: the p-value (ks, chisquare) or the distance (wasserstein, jensenshannon).",
		}, []string{"feature"}),
		featureDrifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_drift_feature_drifted",
			Help: "1 when the feature drifted in the latest report.",
		}, []string{"feature"}),
		datasetDrift: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swipeflix_dataset_drift",
			Help: "1 when the latest report found dataset drift.",
		}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swipeflix_drift_reports_total",
			Help: "Drift reports made.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_consumer_lag",
			Help: "Messages between the consumer's position and the partition's high watermark.",
		}, []string{"service", "partition"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_dlq_messages_total",
			Help: "Malformed messages copied to the dead-letter topic, by reason.",
		}, []string{"service", "reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_http_requests_total",
			Help: "HTTP requests served.",
		}, []string{"service", "method", "endpoint", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swipeflix_http_request_duration_seconds",
			Help:    "HTTP request latency.",
			Buckets: prometheus.DefBuckets,
		}, []string{"service", "method", "endpoint"}),
	}
	for _, c := range []prometheus.Collector{m.score, m.featureScore, m.featureDrifted, m.datasetDrift, m.reports} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register drift metrics: %w", err)
		}
	}
	// The HTTP, lag and DLQ series are shared with the other services of
	// the process (one registry, told apart by the service label): reuse
	// the collector another service registered first.
	var err error
	if m.lag, err = shared(reg, m.lag); err != nil {
		return nil, err
	}
	if m.dlq, err = shared(reg, m.dlq); err != nil {
		return nil, err
	}
	if m.httpRequests, err = shared(reg, m.httpRequests); err != nil {
		return nil, err
	}
	if m.httpDuration, err = shared(reg, m.httpDuration); err != nil {
		return nil, err
	}
	return m, nil
}

func shared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register drift metrics: %w", err)
}

func (m *metrics) observe(r drift.Report) {
	m.reports.Inc()
	m.score.Set(r.Share)
	m.datasetDrift.Set(b2f(r.DatasetDrift))
	for _, f := range r.Features {
		if f.Skipped != "" {
			m.featureScore.DeleteLabelValues(f.Name)
			m.featureDrifted.DeleteLabelValues(f.Name)
			continue
		}
		m.featureScore.WithLabelValues(f.Name).Set(f.Score)
		m.featureDrifted.WithLabelValues(f.Name).Set(b2f(f.Drifted))
	}
}

func (m *metrics) setLag(partition int, lag int64) {
	m.lag.WithLabelValues(serviceName, strconv.Itoa(partition)).Set(float64(lag))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
