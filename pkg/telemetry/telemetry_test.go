package telemetry_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

func TestRegisterReusesTheCollectorAlreadyThere(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "swipeflix_test_total", Help: "test"}
	first, err := telemetry.Register(reg, prometheus.NewCounterVec(opts, []string{"service"}))
	if err != nil {
		t.Fatal(err)
	}
	second, err := telemetry.Register(reg, prometheus.NewCounterVec(opts, []string{"service"}))
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	if first != second {
		t.Error("the second registration did not return the first collector")
	}
	second.WithLabelValues("b").Inc()
	if got := testutil.ToFloat64(first.WithLabelValues("b")); got != 1 {
		t.Errorf("count through the reused collector = %v, want 1", got)
	}
}

func TestRegisterRefusesAConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swipeflix_http_requests_total", Help: "HTTP requests served."},
		[]string{"service"}))
	_, err := telemetry.NewHTTP(reg, "api")
	if err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Fatalf("HTTP series over a same-named counter with other labels: err %v, want a registration error", err)
	}
	// Same descriptor, other type: not reusable either.
	reg = prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "swipeflix_x", Help: "x"}, []string{"service"}))
	if _, err := telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swipeflix_x", Help: "x"},
		[]string{"service"})); err == nil {
		t.Error("a counter vector over a gauge vector of the same name: no error")
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

func TestHTTPServicesShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	api, err := telemetry.NewHTTP(reg, "api")
	if err != nil {
		t.Fatal(err)
	}
	drift, err := telemetry.NewHTTP(reg, "drift")
	if err != nil {
		t.Fatalf("second service on the same registry: %v", err)
	}
	api.Observe("POST", "/predict", 200, 3*time.Millisecond)
	api.Observe("POST", "/predict", 200, time.Millisecond)
	drift.Observe("GET", "/report", 404, time.Millisecond)

	want := `
# HELP swipeflix_http_requests_total HTTP requests served.
# TYPE swipeflix_http_requests_total counter
swipeflix_http_requests_total{endpoint="/predict",method="POST",service="api",status="200"} 2
swipeflix_http_requests_total{endpoint="/report",method="GET",service="drift",status="404"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swipeflix_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "swipeflix_http_request_duration_seconds"); n != 2 {
		t.Errorf("latency series = %d, want 2 (one per service, method and endpoint)", n)
	}
}

func TestMiddlewareRecordsStatusEndpointAndLatency(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := telemetry.NewHTTP(reg, "trainer")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("POST /v1/retrain", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	clock := &fakeClock{t: time.Unix(0, 0), step: 500 * time.Millisecond}
	endpoint := func(r *http.Request) string {
		if _, pattern := mux.Handler(r); pattern != "" {
			return pattern
		}
		return "unmatched"
	}
	srv := h.Middleware(mux, endpoint, clock.now)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/health", nil),
		httptest.NewRequest("POST", "/v1/retrain", nil),
		httptest.NewRequest("GET", "/nope/123", nil),
	} {
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	want := `
# HELP swipeflix_http_requests_total HTTP requests served.
# TYPE swipeflix_http_requests_total counter
swipeflix_http_requests_total{endpoint="GET /health",method="GET",service="trainer",status="200"} 1
swipeflix_http_requests_total{endpoint="POST /v1/retrain",method="POST",service="trainer",status="202"} 1
swipeflix_http_requests_total{endpoint="unmatched",method="GET",service="trainer",status="404"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swipeflix_http_requests_total"); err != nil {
		t.Error(err)
	}
	// The clock steps 0.5 s per reading, two readings a request.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "swipeflix_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if got := m.GetHistogram().GetSampleSum(); got != 0.5 {
				t.Errorf("latency sum %v, want 0.5 s", got)
			}
		}
	}
}

func TestModelVersionIsOnePerService(t *testing.T) {
	reg := prometheus.NewRegistry()
	api, err := telemetry.NewModel(reg, "api")
	if err != nil {
		t.Fatal(err)
	}
	trainer, err := telemetry.NewModel(reg, "trainer")
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "swipeflix_model_age_seconds"); n != 0 {
		t.Errorf("age series before any model: %d, want none", n)
	}
	trainer.SetVersion("7")
	api.SetVersion("5")
	api.SetVersion("6")
	api.SetAge(90 * time.Second)
	want := `
# HELP swipeflix_model_age_seconds Seconds since the serving model's snapshot was created.
# TYPE swipeflix_model_age_seconds gauge
swipeflix_model_age_seconds{service="api"} 90
# HELP swipeflix_model_version_info 1 for the model version a service serves or trains on.
# TYPE swipeflix_model_version_info gauge
swipeflix_model_version_info{service="api",version="6"} 1
swipeflix_model_version_info{service="trainer",version="7"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"swipeflix_model_version_info", "swipeflix_model_age_seconds"); err != nil {
		t.Error(err)
	}
}

func TestConsumerLagAndDLQ(t *testing.T) {
	reg := prometheus.NewRegistry()
	drift, err := telemetry.NewConsumer(reg, "drift")
	if err != nil {
		t.Fatal(err)
	}
	trainer, err := telemetry.NewConsumer(reg, "trainer")
	if err != nil {
		t.Fatal(err)
	}
	drift.SetLag(2, 40)
	drift.SetLag(2, 3)
	trainer.SetLag(0, 1)
	trainer.DeadLettered("invalid")
	trainer.DeadLettered("invalid")
	want := `
# HELP swipeflix_consumer_lag Messages between the consumer's position and the partition's high watermark.
# TYPE swipeflix_consumer_lag gauge
swipeflix_consumer_lag{partition="0",service="trainer"} 1
swipeflix_consumer_lag{partition="2",service="drift"} 3
# HELP swipeflix_dlq_messages_total Malformed messages copied to the dead-letter topic, by reason.
# TYPE swipeflix_dlq_messages_total counter
swipeflix_dlq_messages_total{reason="invalid",service="trainer"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"swipeflix_consumer_lag", "swipeflix_dlq_messages_total"); err != nil {
		t.Error(err)
	}
}

// onlyRegisterer registers but cannot gather.
type onlyRegisterer struct{ prometheus.Registerer }

func TestRegistryDefaults(t *testing.T) {
	reg, gather, err := telemetry.Registry(nil, nil)
	if err != nil || reg == nil || reg != gather.(prometheus.Registerer) {
		t.Fatalf("no registry given: %v, %v, %v; want one fresh registry for both", reg, gather, err)
	}
	shared := prometheus.NewRegistry()
	if reg, gather, err := telemetry.Registry(shared, nil); err != nil || reg != shared || gather != shared {
		t.Errorf("a *Registry alone: %v, %v, %v; want it for both", reg, gather, err)
	}
	other := prometheus.NewRegistry()
	if _, gather, err := telemetry.Registry(onlyRegisterer{shared}, other); err != nil || gather != other {
		t.Errorf("registerer and gatherer given: gather %v, err %v; want the given gatherer", gather, err)
	}
	if _, _, err := telemetry.Registry(onlyRegisterer{shared}, nil); !errors.Is(err, telemetry.ErrNoGatherer) {
		t.Errorf("a registerer that cannot gather, alone: err %v, want ErrNoGatherer", err)
	}
}
