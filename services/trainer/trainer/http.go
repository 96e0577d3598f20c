package trainer

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swipeflix/swipeflix/pkg/store/admin"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
)

// Health is the body of GET /health.
type Health struct {
	// Status is "ok", or "degraded" while registry writes wait for the
	// database (models still go out over NATS).
	Status           string `json:"status"`
	Service          string `json:"service"`
	ModelVersion     int64  `json:"model_version"`
	RegistryDegraded bool   `json:"registry_degraded"`
	RegistryPending  int    `json:"registry_pending"`
	Pairs            int64  `json:"rating_pairs"`
}

// routes serves health, readiness, metrics, the registry (GET /v1/models
// and the admin routes of package store/admin) and POST /v1/retrain.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ready", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	reg := admin.NewHandler(admin.Config{Store: s.deps.Registry, Token: s.cfg.AdminToken,
		OnChange: storebus.SetCurrent(s.deps.Bus), Logger: s.log})
	mux.Handle("/v1/models", reg)
	mux.Handle("/v1/models/", reg)
	mux.HandleFunc("POST /v1/retrain", s.authorized(s.retrainHandler))
	if s.cfg.Pprof {
		// Registered on this mux by hand: importing pprof registers on
		// http.DefaultServeMux, which nothing here serves.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s.metrics.http.ServeMux(mux, time.Now)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Service) health(w http.ResponseWriter, _ *http.Request) {
	h := Health{Status: "ok", Service: serviceName, ModelVersion: s.version.Load(), Pairs: s.pairs.Load()}
	h.RegistryDegraded, h.RegistryPending = s.retry.Degraded(), s.retry.Pending()
	if h.RegistryDegraded {
		h.Status = "degraded"
	}
	writeJSON(w, http.StatusOK, h)
}

// readyz answers 200 once the checkpoint is loaded and the consumer runs.
func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "model_version": s.version.Load()})
}

// authorized checks the admin bearer token in constant time. With no token
// configured the admin routes are refused.
func (s *Service) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "admin token not configured: admin routes are disabled"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swipeflix-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authorization: missing or wrong bearer token"})
			return
		}
		next(w, r)
	}
}

func (s *Service) retrainHandler(w http.ResponseWriter, r *http.Request) {
	reason := "admin request"
	if q := r.URL.Query().Get("reason"); q != "" {
		reason += ": " + q
	}
	s.loop.requestRefit(reason)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "refit requested", "reason": reason})
}
