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
	s := telemetry.NewSeries(reg)
	m := &metrics{
		score:          s.Gauge("swipeflix_drift_score", "Share of drifted features in the latest drift report."),
		featureScore:   s.GaugeVec("swipeflix_drift_feature_score", "Latest drift score per feature: the p-value (ks, chisquare) or the distance (wasserstein, jensenshannon).", "feature"),
		featureDrifted: s.GaugeVec("swipeflix_drift_feature_drifted", "1 when the feature drifted in the latest report.", "feature"),
		datasetDrift:   s.Gauge("swipeflix_dataset_drift", "1 when the latest report found dataset drift."),
		reports:        s.Counter("swipeflix_drift_reports_total", "Drift reports made."),
		consumer:       s.Consumer(serviceName),
		http:           s.HTTP(serviceName),
	}
	if err := s.Err(); err != nil {
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
