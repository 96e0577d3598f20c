package trainer

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

const serviceName = "trainer"

// metrics are the trainer's Prometheus series (docs/metrics.md, trainer
// rows). swipeflix_registry_degraded is registered by store.Retrying.
type metrics struct {
	events          *prometheus.CounterVec
	lag             *prometheus.GaugeVec
	dlq             *prometheus.CounterVec
	refits          *prometheus.CounterVec
	deltasPublished prometheus.Counter
	versionInfo     *prometheus.GaugeVec
	age             *prometheus.GaugeVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec

	applied, stale, invalid prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_trainer_events_total",
			Help: "Events the trainer consumed, by result (applied, stale: changed nothing, invalid).",
		}, []string{"result"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_consumer_lag",
			Help: "Messages between the consumer's position and the partition's high watermark.",
		}, []string{"service", "partition"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_dlq_messages_total",
			Help: "Malformed messages copied to the dead-letter topic, by reason.",
		}, []string{"service", "reason"}),
		refits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swipeflix_model_refits_total",
			Help: "Full refits, by result (published, rejected by the quality gate, failed).",
		}, []string{"result"}),
		deltasPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swipeflix_model_deltas_published_total",
			Help: "Incremental model deltas published on swipeflix.model.delta.",
		}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_model_version_info",
			Help: "1 for the model version a service serves or trains on.",
		}, []string{"service", "version"}),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swipeflix_model_age_seconds",
			Help: "Seconds since the serving model's snapshot was created.",
		}, []string{"service"}),
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
	var err error
	// Series shared by the services of one process are registered once and
	// reused; each service sets its own `service` label.
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.dlq, err = register(reg, m.dlq); err != nil {
		return nil, err
	}
	if m.versionInfo, err = register(reg, m.versionInfo); err != nil {
		return nil, err
	}
	if m.age, err = register(reg, m.age); err != nil {
		return nil, err
	}
	if m.httpRequests, err = register(reg, m.httpRequests); err != nil {
		return nil, err
	}
	if m.httpDuration, err = register(reg, m.httpDuration); err != nil {
		return nil, err
	}
	for _, c := range []prometheus.Collector{m.events, m.refits, m.deltasPublished} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register trainer metrics: %w", err)
		}
	}
	m.applied = m.events.WithLabelValues("applied")
	m.stale = m.events.WithLabelValues("stale")
	m.invalid = m.events.WithLabelValues("invalid")
	for _, r := range []string{"published", "rejected", "failed"} {
		m.refits.WithLabelValues(r)
	}
	return m, nil
}

// setVersion makes version the only one the trainer reports.
func (m *metrics) setVersion(version int64) {
	m.versionInfo.DeletePartialMatch(prometheus.Labels{"service": serviceName})
	m.versionInfo.WithLabelValues(serviceName, strconv.FormatInt(version, 10)).Set(1)
}

// register registers c, or returns the identical collector already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register trainer metrics: %w", err)
	}
	return c, nil
}
