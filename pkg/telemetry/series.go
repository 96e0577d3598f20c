package telemetry

import "github.com/prometheus/client_golang/prometheus"

// Series declares a service's own series on one registerer and keeps the
// first error, so that a service's metrics constructor reads as the list
// of its series and checks once (Err). Unlike the shared series (NewHTTP,
// NewModel, NewConsumer), a name registered twice is an error: each of
// these belongs to one service.
type Series struct {
	reg prometheus.Registerer
	err error
}

// NewSeries returns a Series that registers on reg.
func NewSeries(reg prometheus.Registerer) *Series { return &Series{reg: reg} }

// Err is the first registration error, or nil.
func (s *Series) Err() error { return s.err }

// Counter declares a counter.
func (s *Series) Counter(name, help string) prometheus.Counter {
	return own(s, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec declares a counter with labels.
func (s *Series) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return own(s, counterVec(name, help, labels...))
}

// Gauge declares a gauge.
func (s *Series) Gauge(name, help string) prometheus.Gauge {
	return own(s, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

// GaugeVec declares a gauge with labels.
func (s *Series) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return own(s, gaugeVec(name, help, labels...))
}

// Histogram declares a histogram with the given bucket bounds.
func (s *Series) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return own(s, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

// own registers c on s's registerer unless an earlier one failed.
func own[C prometheus.Collector](s *Series, c C) C {
	if s.err == nil {
		s.err = s.reg.Register(c)
	}
	return c
}

// HTTP is NewHTTP(reg, service) through s.
func (s *Series) HTTP(service string) *HTTP { return shareThrough(s, NewHTTP, service) }

// Model is NewModel(reg, service) through s.
func (s *Series) Model(service string) *Model { return shareThrough(s, NewModel, service) }

// Consumer is NewConsumer(reg, service) through s.
func (s *Series) Consumer(service string) *Consumer { return shareThrough(s, NewConsumer, service) }

// shareThrough builds a service's view of shared series on s's registerer
// unless an earlier registration failed.
func shareThrough[T any](s *Series, build func(prometheus.Registerer, string) (T, error), service string) T {
	var v T
	if s.err == nil {
		v, s.err = build(s.reg, service)
	}
	return v
}
