package ingest

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const serviceName = "ingest"

// metrics are the ingest service's series (docs/metrics.md).
type metrics struct {
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
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
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_ingest_events_total",
			Help: "Events received by ingest, by endpoint kind (rating, swipe) and result.",
		}, []string{"kind", "result"}),
	}
	var err error
	if m.httpRequests, err = register(reg, m.httpRequests); err != nil {
		return nil, err
	}
	if m.httpDuration, err = register(reg, m.httpDuration); err != nil {
		return nil, err
	}
	if m.events, err = register(reg, m.events); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector already there:
// the HTTP series are shared by every service of the one process, which has
// one registry, and each adds its own `service` label value.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register ingest metrics: %w", err)
	}
	return c, nil
}
