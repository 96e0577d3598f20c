// Package telemetry holds the Prometheus series that several SwipeFlix
// services export (docs/metrics.md): HTTP requests and latency, the model
// version and age, consumer lag and dead-lettered messages.
//
// The one binary runs every service in one process on one registry, so a
// shared series is registered by whichever service comes first and reused
// by the others, each writing under its own `service` label value.
// Register is that get-or-register step; the constructors below use it, and
// services use it for any series they may register more than once.
package telemetry

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg, or returns the collector already registered
// there under the same descriptors (prometheus.AlreadyRegisteredError) when
// it has c's type. Any other failure, such as the same name with other
// labels or help, is an error.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
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
	return c, fmt.Errorf("register metrics: %w", err)
}

// ErrNoGatherer means a service was given a Registerer it cannot serve
// /metrics from, and no Gatherer.
var ErrNoGatherer = errors.New("a Registerer that cannot gather needs a Gatherer")

// Registry resolves the registerer and gatherer a service is given: none
// means a fresh registry of its own for both, a registerer that gathers
// too (a *prometheus.Registry) serves its own /metrics, and any other
// registerer needs its gatherer.
func Registry(reg prometheus.Registerer, gather prometheus.Gatherer) (prometheus.Registerer, prometheus.Gatherer, error) {
	if reg == nil {
		r := prometheus.NewRegistry()
		return r, r, nil
	}
	if gather == nil {
		g, ok := reg.(prometheus.Gatherer)
		if !ok {
			return nil, nil, ErrNoGatherer
		}
		gather = g
	}
	return reg, gather, nil
}

// registrar registers the series of one constructor and keeps the first
// error, so that the constructor reads as the list of its series. A
// constructor that returns an error returns an unusable value with it.
type registrar struct {
	reg prometheus.Registerer
	err error
}

// shared is Register through r; after a failure it registers nothing more.
func shared[C prometheus.Collector](r *registrar, c C) C {
	if r.err == nil {
		c, r.err = Register(r.reg, c)
	}
	return c
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

// HTTP is one service's view of swipeflix_http_requests_total and
// swipeflix_http_request_duration_seconds. Every service observes its
// requests through it, whatever its HTTP stack: Fiber (FiberMiddleware) or
// net/http (Middleware).
type HTTP struct {
	service  string
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the child series of each (method, endpoint, status),
	// keyed by label values that are constants (Method) or route patterns,
	// never strings a framework lends.
	series sync.Map
}

// NewHTTP registers (or reuses) the HTTP series on reg for service.
func NewHTTP(reg prometheus.Registerer, service string) (*HTTP, error) {
	r := &registrar{reg: reg}
	h := &HTTP{service: service,
		requests: shared(r, counterVec("swipeflix_http_requests_total", "HTTP requests served.",
			"service", "method", "endpoint", "status")),
		duration: shared(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swipeflix_http_request_duration_seconds",
			Help:    "HTTP request latency.",
			Buckets: prometheus.DefBuckets,
		}, []string{"service", "method", "endpoint"})),
	}
	return h, r.err
}

// Methods are the method label values: the standard methods, and "other"
// for anything else.
var Methods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"}

// Method returns the label value of an HTTP method: one of Methods, always
// a constant, never m itself. A framework may lend m from a buffer it
// reuses after the request (Fiber and fasthttp do), and a label value kept
// from it would change under the registry.
func Method(m string) string {
	for _, known := range Methods[:len(Methods)-1] {
		if m == known {
			return known
		}
	}
	return "other"
}

// OtherEndpoint is the endpoint label of a request no route took.
const OtherEndpoint = "other"

type seriesKey struct {
	method, endpoint string
	status           int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// Observe counts one request and records its latency. method must be a
// value of Method and endpoint come from a fixed set (a route pattern,
// never the raw path), so that a scan cannot blow up the label set and no
// label aliases a reused buffer.
func (h *HTTP) Observe(method, endpoint string, status int, took time.Duration) {
	k := seriesKey{method, endpoint, status}
	v, ok := h.series.Load(k)
	if !ok {
		v, _ = h.series.LoadOrStore(k, &httpSeries{
			requests: h.requests.WithLabelValues(h.service, method, endpoint, strconv.Itoa(status)),
			duration: h.duration.WithLabelValues(h.service, method, endpoint),
		})
	}
	hs := v.(*httpSeries)
	hs.requests.Inc()
	hs.duration.Observe(took.Seconds())
}

// Middleware wraps next so that every request is observed under the
// endpoint label endpoint(r) gives, with the status next wrote (200 when
// it wrote none). now is the clock (time.Now in production).
func (h *HTTP) Middleware(next http.Handler, endpoint func(*http.Request) string, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		h.Observe(Method(r.Method), endpoint(r), sw.status, now().Sub(start))
	})
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Model is one service's view of swipeflix_model_version_info and
// swipeflix_model_age_seconds.
type Model struct {
	service string
	version *prometheus.GaugeVec
	age     *prometheus.GaugeVec
}

// NewModel registers (or reuses) the model series on reg for service.
func NewModel(reg prometheus.Registerer, service string) (*Model, error) {
	r := &registrar{reg: reg}
	m := &Model{service: service,
		version: shared(r, gaugeVec("swipeflix_model_version_info",
			"1 for the model version a service serves or trains on.", "service", "version")),
		age: shared(r, gaugeVec("swipeflix_model_age_seconds",
			"Seconds since the serving model's snapshot was created.", "service")),
	}
	return m, r.err
}

// SetVersion makes version the only one the service reports.
func (m *Model) SetVersion(version string) {
	m.version.DeletePartialMatch(prometheus.Labels{"service": m.service})
	m.version.WithLabelValues(m.service, version).Set(1)
}

// SetAge records the age of the service's model. The series exists from
// the first call on: before a model there is no age to report.
func (m *Model) SetAge(age time.Duration) { m.age.WithLabelValues(m.service).Set(age.Seconds()) }

// Consumer is one service's view of swipeflix_consumer_lag and
// swipeflix_dlq_messages_total.
type Consumer struct {
	service string
	lag     *prometheus.GaugeVec
	dlq     *prometheus.CounterVec
}

// NewConsumer registers (or reuses) the consumer series on reg for service.
func NewConsumer(reg prometheus.Registerer, service string) (*Consumer, error) {
	r := &registrar{reg: reg}
	c := &Consumer{service: service,
		lag: shared(r, gaugeVec("swipeflix_consumer_lag",
			"Messages between the consumer's position and the partition's high watermark.", "service", "partition")),
		dlq: shared(r, counterVec("swipeflix_dlq_messages_total",
			"Malformed messages copied to the dead-letter topic, by reason.", "service", "reason")),
	}
	return c, r.err
}

// SetLag records the lag of one partition; its signature fits
// kafkabus.ReportLag.
func (c *Consumer) SetLag(partition int, lag int64) {
	c.lag.WithLabelValues(c.service, strconv.Itoa(partition)).Set(float64(lag))
}

// DeadLettered counts one message sent to the dead-letter topic.
func (c *Consumer) DeadLettered(reason string) {
	c.dlq.WithLabelValues(c.service, reason).Inc()
}

// ServeMux observes every request of mux under its route pattern's path
// ("/v1/models/{version}/promote", not the request's path) and answers a
// request no pattern takes with NotFound under OtherEndpoint. Register no
// catch-all "/" pattern on mux.
func (h *HTTP) ServeMux(mux *http.ServeMux, now func() time.Time) http.Handler {
	routed := h.Middleware(mux, func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		if _, path, ok := strings.Cut(pattern, " "); ok {
			return path
		}
		return pattern
	}, now)
	notFound := h.Middleware(http.HandlerFunc(NotFound), func(*http.Request) string { return OtherEndpoint }, now)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			notFound.ServeHTTP(w, r)
			return
		}
		routed.ServeHTTP(w, r)
	})
}
