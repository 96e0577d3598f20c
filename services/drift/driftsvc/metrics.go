package driftsvc

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

const serviceName = "drift"

// metrics are the drift service's Prometheus series (docs/metrics.md).
type metrics struct {
	score          prometheus.Gauge
	featureScore   *prometheus.GaugeVec
	featureDrifted *prometheus.GaugeVec
	datasetDrift   prometheus.Gauge
	reports        prometheus.Counter
	// Shared with the other services of the process (one registry).
	consumer *telemetry.Consumer
	http     *telemetry.HTTP
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
	}
	for _, c := range []prometheus.Collector{m.score, m.featureScore, m.featureDrifted, m.datasetDrift, m.reports} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register drift metrics: %w", err)
		}
	}
	var err error
	if m.consumer, err = telemetry.NewConsumer(reg, serviceName); err != nil {
		return nil, fmt.Errorf("drift metrics: %w", err)
	}
	if m.http, err = telemetry.NewHTTP(reg, serviceName); err != nil {
		return nil, fmt.Errorf("drift metrics: %w", err)
	}
	return m, nil
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

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
