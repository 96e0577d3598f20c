package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

const serviceName = "ingest"

// metrics are the ingest service's series (docs/metrics.md).
type metrics struct {
	http   *telemetry.HTTP
	events *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	h, err := telemetry.NewHTTP(reg, serviceName)
	if err != nil {
		return nil, fmt.Errorf("ingest metrics: %w", err)
	}
	events, err := telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swipeflix_ingest_events_total",
		Help: "Events received by ingest, by endpoint kind (rating, swipe) and result.",
	}, []string{"kind", "result"}))
	if err != nil {
		return nil, fmt.Errorf("ingest metrics: %w", err)
	}
	return &metrics{http: h, events: events}, nil
}
