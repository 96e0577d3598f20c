package trainer

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

const serviceName = "trainer"

// metrics are the trainer's Prometheus series (docs/metrics.md, trainer
// rows). swipeflix_registry_degraded is registered by store.Retrying.
type metrics struct {
	events          *prometheus.CounterVec
	refits          *prometheus.CounterVec
	deltasPublished prometheus.Counter
	retrain         *prometheus.CounterVec
	checkpoints     *prometheus.CounterVec
	refused         prometheus.Counter
	readingAhead    prometheus.Gauge
	flushSeconds    prometheus.Histogram
	usersFolded     prometheus.Counter
	// Shared with the other services of the process (one registry).
	consumer *telemetry.Consumer
	model    *telemetry.Model
	http     *telemetry.HTTP

	applied, stale, invalid prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	s := telemetry.NewSeries(reg)
	m := &metrics{
		events:       s.CounterVec("swipeflix_trainer_events_total", "Events the trainer consumed, by result (applied, stale: changed nothing, invalid).", "result"),
		refits:       s.CounterVec("swipeflix_model_refits_total", "Full refits, by result (published, rejected by the quality gate, unchanged: nothing new to cover, failed).", "result"),
		retrain:      s.CounterVec("swipeflix_trainer_retrain_requests_total", "Retrain requests received over NATS, by result (accepted, refused: bad token or payload).", "result"),
		checkpoints:  s.CounterVec("swipeflix_trainer_checkpoints_total", "Checkpoint writes, by result (written, failed: retried on a timer).", "result"),
		refused:      s.Counter("swipeflix_trainer_models_refused_total", "Serving manifests whose snapshot did not load (checksum, format, version): the trainer keeps folding into the last good model."),
		readingAhead: s.Gauge("swipeflix_trainer_reading_ahead", "1 while the trainer is behind and reads new events ahead of its backlog, so that fresh swipes reach the model."),
		flushSeconds: s.Histogram("swipeflix_trainer_flush_seconds", "Time of one flush: folding in the users changed since the last one, encoding and publishing their deltas.",
			[]float64{.001, .005, .02, .1, .5, 1, 2, 5, 10, 30}),
		usersFolded:     s.Counter("swipeflix_trainer_users_folded_total", "User fold-ins done by flushes (a user changed by many events between two flushes counts once)."),
		deltasPublished: s.Counter("swipeflix_model_deltas_published_total", "Incremental model deltas published on swipeflix.model.delta."),
		consumer:        s.Consumer(serviceName),
		model:           s.Model(serviceName),
		http:            s.HTTP(serviceName),
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("trainer metrics: %w", err)
	}
	m.applied = m.events.WithLabelValues("applied")
	m.stale = m.events.WithLabelValues("stale")
	m.invalid = m.events.WithLabelValues("invalid")
	for _, r := range []string{"published", "rejected", "unchanged", "failed"} {
		m.refits.WithLabelValues(r)
	}
	for _, r := range []string{"accepted", "refused"} {
		m.retrain.WithLabelValues(r)
	}
	for _, r := range []string{"written", "failed"} {
		m.checkpoints.WithLabelValues(r)
	}
	return m, nil
}

// setVersion makes version the only one the trainer reports.
func (m *metrics) setVersion(version int64) {
	m.model.SetVersion(strconv.FormatInt(version, 10))
}
