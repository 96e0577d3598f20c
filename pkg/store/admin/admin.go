// Package admin serves the model registry's admin endpoints over HTTP and
// is the client the `swipeflix` registry commands use.
//
// Routes (JSON in and out; errors are {"error": "..."} naming the field):
//
//	GET  /v1/models?stage=&limit=      list, newest first
//	GET  /v1/models/current            the production model
//	GET  /v1/models/{version}          one model
//	GET  /v1/models/{version}/history  its stage changes
//	POST /v1/models/{version}/promote  {"by": "...", "reason": "..."}
//	POST /v1/models/rollback           {"by": "...", "reason": "..."}
//
// The POST routes need "Authorization: Bearer <token>"; with no token
// configured they are refused. After the registry changes, the OnChange hook
// (storebus.SetCurrent in the trainer) republishes the new production model
// so the api replicas hot-swap to it.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/swipeflix/swipeflix/pkg/store"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// Registry is the model registry the routes read and change
// (*store.Store).
type Registry interface {
	List(ctx context.Context, opt store.ListOptions) ([]store.ModelRecord, error)
	Get(ctx context.Context, version int64) (store.ModelRecord, error)
	Current(ctx context.Context) (store.ModelRecord, error)
	StageHistory(ctx context.Context, version int64) ([]store.StageChange, error)
	Promote(ctx context.Context, version int64, by, reason string) (store.ModelRecord, error)
	Rollback(ctx context.Context, by, reason string) (store.ModelRecord, error)
}

var _ Registry = (*store.Store)(nil)

// Config configures the handler.
type Config struct {
	// Store is the registry.
	Store Registry
	// Token guards the POST routes; empty refuses them all.
	Token string
	// OnChange runs after a promotion or rollback with the new production
	// model; nil skips it. When it fails the registry has still changed,
	// and the response (502) says so.
	OnChange func(ctx context.Context, current store.ModelRecord) error
	// OnChangeTimeout bounds OnChange (default 10s); it also gives the hook
	// a deadline, which NATS flushes require.
	OnChangeTimeout time.Duration
	// Logger receives stage changes; nil discards them.
	Logger *slog.Logger
}

// Handler serves the routes above.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler builds the handler.
func NewHandler(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /v1/models", h.list)
	h.mux.HandleFunc("GET /v1/models/current", h.current)
	h.mux.HandleFunc("GET /v1/models/{version}", h.withVersion(h.get))
	h.mux.HandleFunc("GET /v1/models/{version}/history", h.withVersion(h.history))
	h.mux.HandleFunc("POST /v1/models/{version}/promote", h.authorized(h.withVersion(h.promote)))
	h.mux.HandleFunc("POST /v1/models/rollback", h.authorized(h.rollback))
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// StageRequest is the body of promote and rollback.
type StageRequest struct {
	// By names who asked (a user name, "ci"); required.
	By string `json:"by"`
	// Reason is free text kept with the model.
	Reason string `json:"reason,omitempty"`
}

// ChangeResponse is the answer to promote and rollback.
type ChangeResponse struct {
	// Model is the production model after the change.
	Model store.ModelRecord `json:"model"`
	// Error is set when the registry changed but OnChange failed.
	Error string `json:"error,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// reply answers 200 with v as JSON, or the error err as fail does.
func (h *Handler) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
	default:
		h.log.Error("registry admin request failed", "err", err)
	}
	writeJSON(w, status, errorBody{Error: err.Error()})
}

func (h *Handler) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.Token == "" {
			writeJSON(w, http.StatusForbidden, errorBody{Error: "admin token not configured: registry changes are disabled"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swipeflix-admin"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "authorization: missing or wrong bearer token"})
			return
		}
		next(w, r)
	}
}

// withVersion parses the path's model version for next, answering 400 when
// it is not a positive integer.
func (h *Handler) withVersion(next func(w http.ResponseWriter, r *http.Request, v int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := version(r)
		if err != nil {
			h.fail(w, err)
			return
		}
		next(w, r, v)
	}
}

func version(r *http.Request) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: version: want a positive integer, got %q", store.ErrInvalid, r.PathValue("version"))
	}
	return v, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	opt := store.ListOptions{Stage: store.Stage(r.URL.Query().Get("stage")), Limit: 100}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 1000 {
			h.fail(w, fmt.Errorf("%w: limit: want 1..1000, got %q", store.ErrInvalid, s))
			return
		}
		opt.Limit = n
	}
	ms, err := h.cfg.Store.List(r.Context(), opt)
	if err != nil {
		h.fail(w, err)
		return
	}
	if ms == nil {
		ms = []store.ModelRecord{}
	}
	writeJSON(w, http.StatusOK, ms)
}

func (h *Handler) current(w http.ResponseWriter, r *http.Request) {
	m, err := h.cfg.Store.Current(r.Context())
	h.reply(w, m, err)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, v int64) {
	m, err := h.cfg.Store.Get(r.Context(), v)
	h.reply(w, m, err)
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, v int64) {
	if _, err := h.cfg.Store.Get(r.Context(), v); err != nil {
		h.fail(w, err)
		return
	}
	hist, err := h.cfg.Store.StageHistory(r.Context(), v)
	h.reply(w, hist, err)
}

func decodeStage(r *http.Request) (StageRequest, error) {
	var req StageRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("%w: body: want {\"by\": ..., \"reason\": ...}: %v", store.ErrInvalid, err)
	}
	if strings.TrimSpace(req.By) == "" {
		return req, fmt.Errorf("%w: by: required", store.ErrInvalid)
	}
	return req, nil
}

func (h *Handler) promote(w http.ResponseWriter, r *http.Request, v int64) {
	req, err := decodeStage(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	m, err := h.cfg.Store.Promote(r.Context(), v, req.By, req.Reason)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.log.Info("model promoted", "version", m.Version, "by", req.By, "reason", req.Reason)
	h.changed(w, r, m)
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request) {
	req, err := decodeStage(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	m, err := h.cfg.Store.Rollback(r.Context(), req.By, req.Reason)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.log.Info("model rolled back", "version", m.Version, "by", req.By, "reason", m.Reason)
	h.changed(w, r, m)
}

func (h *Handler) changed(w http.ResponseWriter, r *http.Request, m store.ModelRecord) {
	if h.cfg.OnChange != nil {
		timeout := h.cfg.OnChangeTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		// The registry has changed: finish publishing even if the client
		// hangs up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
		defer cancel()
		if err := h.cfg.OnChange(ctx, m); err != nil {
			h.log.Error("registry changed but publishing the current model failed", "version", m.Version, "err", err)
			writeJSON(w, http.StatusBadGateway, ChangeResponse{Model: m,
				Error: fmt.Sprintf("registry now has %d in production, but publishing it failed: %v", m.Version, err)})
			return
		}
	}
	writeJSON(w, http.StatusOK, ChangeResponse{Model: m})
}
