package driftsvc

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swipeflix/swipeflix/pkg/drift"
)

// Handler serves GET /health, /ready, /metrics, /v1/drift/latest (JSON)
// and /report (HTML with a chart per feature).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("GET /ready", s.handleReady)
	mux.HandleFunc("GET /v1/drift/latest", s.handleLatest)
	mux.HandleFunc("GET /report", s.handleReport)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	return s.metrics.http.ServeMux(mux, time.Now)
}

func (s *Service) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

func (s *Service) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() || s.nc == nil || !s.nc.IsConnected() {
		writeError(w, http.StatusServiceUnavailable, "not ready: consumer or NATS not connected")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// newest returns the newest report: this run's, else the store's.
func (s *Service) newest(r *http.Request) (drift.Report, []byte, error) {
	s.mu.Lock()
	rep, body := s.latestReport()
	s.mu.Unlock()
	if body != nil {
		return rep, body, nil
	}
	rep, err := s.store.LatestDriftReport(r.Context())
	if err != nil {
		return rep, nil, err
	}
	body, err = json.Marshal(rep)
	return rep, body, err
}

func (s *Service) latestReport() (drift.Report, []byte) {
	if s.latest == nil {
		return drift.Report{}, nil
	}
	return *s.latest, s.latestJSON
}

func (s *Service) handleLatest(w http.ResponseWriter, r *http.Request) {
	_, body, err := s.newest(r)
	switch {
	case errors.Is(err, drift.ErrNoReport):
		writeError(w, http.StatusNotFound, "no drift report yet: the reference or current window is still filling")
		return
	case err != nil:
		s.log.Error("latest drift report", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the latest drift report failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	rep, _, err := s.newest(r)
	if err != nil && !errors.Is(err, drift.ErrNoReport) {
		s.log.Error("latest drift report", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the latest drift report failed")
		return
	}
	page := buildPage(rep, err == nil, s.status())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, page); err != nil {
		s.log.Error("render report page", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
