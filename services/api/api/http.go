package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/pprof"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

//go:embed openapi.json
var openapiDoc []byte

//go:embed docs.html
var docsPage []byte

// errorBody is every error answer: what is wrong and, for a bad request,
// which field.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Routes, as the OpenAPI document and the endpoint label name them.
const (
	routePredict = "/predict"
	routeHealth  = "/health"
	routeReady   = "/ready"
	routeMetrics = "/metrics"
	routeModel   = "/v1/model"
	routeMovie   = "/v1/movies/:id"
	routeSimilar = "/v1/movies/:id/similar"
	routeOpenAPI = "/openapi.json"
	routeDocs    = "/docs"
)

func (s *Service) newApp() *fiber.App {
	app := fiber.New(s.cfg.Limits.Fiber(fiber.Config{
		AppName:               "swipeflix-api",
		BodyLimit:             s.cfg.BodyLimit,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
	}))
	app.Use(s.metrics.http.FiberMiddleware(s.handleError))
	if s.cfg.Pprof {
		app.Use(pprof.New())
	}
	s.useCORS(app)
	app.Post(routePredict, s.withModel(s.predict))
	app.Get(routeHealth, s.health)
	app.Get(routeReady, s.ready)
	app.Get(routeMetrics, adaptor.HTTPHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	app.Get(routeModel, s.withModel(s.modelInfo))
	app.Get(routeMovie, s.withModel(s.movie))
	app.Get(routeSimilar, s.withModel(s.similar))
	app.Get(routeOpenAPI, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openapiDoc)
	})
	app.Get(routeDocs, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(docsPage)
	})
	s.deckRoutes(app)
	app.Use(telemetry.FiberNotFound)
	return app
}

// handleError turns an error from a handler or from fasthttp (body too
// large, say) into a JSON answer.
func (s *Service) handleError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return c.Status(fe.Code).JSON(errorBody{Error: fe.Message})
	}
	s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	return c.Status(fiber.StatusInternalServerError).JSON(errorBody{Error: "internal error"})
}

func badRequest(c *fiber.Ctx, status int, field, msg string) error {
	return c.Status(status).JSON(errorBody{Error: msg, Field: field})
}

// withModel answers 503 (noModel) while no model is loaded, and otherwise
// hands h the serving model, loaded once for the whole request.
func (s *Service) withModel(h func(c *fiber.Ctx, sv *serving) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sv := s.cur.Load()
		if sv == nil {
			return noModel(c)
		}
		return h(c, sv)
	}
}

func noModel(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, "1")
	return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Error: "no model loaded yet: the api is waiting for the trainer's first snapshot"})
}

// predictRequest is the body of POST /predict. Unknown fields are ignored.
type predictRequest struct {
	UserID  flexID   `json:"user_id"`
	TopK    *int     `json:"top_k"`
	Offset  int      `json:"offset"`
	Exclude []string `json:"exclude"`
	Genres  []string `json:"genres"`
}

// flexID is an id given as a JSON string or, as MovieLens ids often are,
// an integer.
type flexID string

// UnmarshalJSON accepts "42" and 42 alike.
func (f *flexID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
		return errors.New("must be a string or an integer")
	}
	*f = flexID(b)
	return nil
}

var requestPool = sync.Pool{New: func() any { return new(predictRequest) }}

// maxIDLen bounds a user id: longer is a client bug, not a user.
const maxIDLen = 256

// decodePredict parses body into r and names the field at fault.
func decodePredict(body []byte, r *predictRequest) (field string, err error) {
	return decodeUserBody(body, r, &r.UserID, `a JSON object such as {"user_id": "user_1", "top_k": 5}`)
}

// decodeUserBody parses a JSON object body into dst, checks its user_id
// (user, a field of dst) and names the field at fault; wanted describes
// the body for a request that has none.
func decodeUserBody(body []byte, dst any, user *flexID, wanted string) (field string, err error) {
	if len(body) == 0 {
		return "body", errors.New("body: required, " + wanted)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return te.Field, fmt.Errorf("%s: must be %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &te):
			return "body", fmt.Errorf("body: must be a JSON object, got %s", te.Value)
		case errors.As(err, &se):
			return "body", fmt.Errorf("body: malformed JSON at byte %d: %v", se.Offset, se)
		default:
			// flexID's own error: json names no field, but only user_id uses it.
			return "user_id", fmt.Errorf("user_id: %v", err)
		}
	}
	switch {
	case *user == "":
		return "user_id", errors.New("user_id: required")
	case len(*user) > maxIDLen:
		return "user_id", fmt.Errorf("user_id: longer than %d bytes", maxIDLen)
	}
	return "", nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64":
		return "an integer"
	case "slice":
		return "an array of strings"
	case "string":
		return "a string"
	}
	return k
}

func (s *Service) predict(c *fiber.Ctx, sv *serving) error {
	req := requestPool.Get().(*predictRequest)
	defer func() {
		*req = predictRequest{Exclude: req.Exclude[:0], Genres: req.Genres[:0]}
		requestPool.Put(req)
	}()
	if field, err := decodePredict(c.Body(), req); err != nil {
		return badRequest(c, fiber.StatusBadRequest, field, err.Error())
	}
	k := s.cfg.DefaultTopK
	if req.TopK != nil {
		k = *req.TopK
	}
	user := string(req.UserID)
	start := s.now()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	b := appendPredictHead((*buf)[:0], user)

	cache := sv.cache
	if len(req.Exclude) > 0 || len(req.Genres) > 0 {
		cache = nil // filtered answers are not cached
	}
	if cache != nil {
		if a, ok := cache.get(user, k, req.Offset); ok {
			s.countPrediction(a.cold)
			b = append(b, a.items...)
			*buf = appendPredictTail(b, sv.version, s.now().Sub(start), a.cold, true)
			return sendJSON(c, *buf)
		}
	}
	var gen uint64
	if cache != nil {
		gen = cache.generation()
	}
	res, err := sv.model.Recommend(recommend.Query{User: user, K: k, Offset: req.Offset,
		Exclude: req.Exclude, Genres: req.Genres})
	took := s.now().Sub(start)
	if err != nil {
		var qe *recommend.QueryError
		if errors.As(err, &qe) {
			return badRequest(c, fiber.StatusUnprocessableEntity, qe.Field, qe.Error())
		}
		return fmt.Errorf("predict for %q on model %s: %w", user, sv.version, err)
	}
	s.metrics.inference.Observe(took.Seconds())
	s.countPrediction(res.ColdStart)
	itemsAt := len(b)
	b = appendItems(b, res.Items)
	if cache != nil {
		cache.put(gen, user, cachedAnswer{k: k, offset: req.Offset, cold: res.ColdStart, items: bytes.Clone(b[itemsAt:])})
	}
	*buf = appendPredictTail(b, sv.version, took, res.ColdStart, false)
	return sendJSON(c, *buf)
}

func (s *Service) countPrediction(cold bool) {
	if cold {
		s.metrics.coldStart.Inc()
	} else {
		s.metrics.personal.Inc()
	}
}

// sendJSON answers 200 with body. SetBody copies into fasthttp's own
// pooled buffer; c.Send would keep a reference to ours past its return to
// the pool.
func sendJSON(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Response().SetBody(body)
	return nil
}

func (s *Service) health(c *fiber.Ctx) error {
	body := fiber.Map{
		"status":       "healthy",
		"timestamp":    s.now().UTC().Format(time.RFC3339),
		"model_loaded": false,
	}
	if sv := s.cur.Load(); sv != nil {
		body["model_loaded"] = true
		body["model_version"] = sv.version
	}
	if why := s.fallbackReason(); why != "" {
		body["model_fallback"] = why
	}
	return c.JSON(body)
}

func (s *Service) ready(c *fiber.Ctx) error {
	sv := s.cur.Load()
	if sv == nil {
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not ready", "error": "no model loaded yet"})
	}
	return c.JSON(fiber.Map{"status": "ready", "model_version": sv.version})
}

// modelResponse is GET /v1/model.
type modelResponse struct {
	ModelVersion  string            `json:"model_version"`
	Manifest      modelbus.Manifest `json:"manifest"`
	Stats         modelStats        `json:"stats"`
	Config        recommend.Config  `json:"config"`
	LoadedAt      time.Time         `json:"loaded_at"`
	AgeSeconds    float64           `json:"age_seconds"`
	DeltasApplied int64             `json:"deltas_applied"`
	LastDeltaSeq  int64             `json:"last_delta_seq"`
}

type modelStats struct {
	Users         int `json:"users"`
	Movies        int `json:"movies"`
	Interactions  int `json:"interactions"`
	Factors       int `json:"factors"`
	RatingFactors int `json:"rating_factors"`
	Terms         int `json:"terms"`
}

func (s *Service) modelInfo(c *fiber.Ctx, sv *serving) error {
	st := sv.model.Stats()
	return c.JSON(modelResponse{
		ModelVersion: sv.version,
		Manifest:     sv.manifest,
		Stats: modelStats{Users: st.Users, Movies: st.Movies, Interactions: st.Interactions,
			Factors: st.Factors, RatingFactors: st.RatingFactors, Terms: st.Terms},
		Config:        sv.model.Config(),
		LoadedAt:      sv.loadedAt.UTC(),
		AgeSeconds:    s.now().Sub(sv.manifest.CreatedAt).Seconds(),
		DeltasApplied: sv.deltas.Load(),
		LastDeltaSeq:  sv.lastSeq.Load(),
	})
}

// movieBody is one movie as the read endpoints show it.
type movieBody struct {
	MovieID  string   `json:"movie_id"`
	Title    string   `json:"title"`
	Year     int      `json:"year,omitempty"`
	Genres   []string `json:"genres"`
	Tags     []string `json:"tags,omitempty"`
	Overview string   `json:"overview,omitempty"`
}

func (s *Service) movie(c *fiber.Ctx, sv *serving) error {
	id := c.Params("id")
	mi, ok := sv.model.Movie(id)
	if !ok {
		return badRequest(c, fiber.StatusNotFound, "id", fmt.Sprintf("movie %q not found in model %s", id, sv.version))
	}
	genres := mi.Genres
	if genres == nil {
		genres = []string{}
	}
	return c.JSON(fiber.Map{
		"movie":         movieBody{MovieID: mi.ID, Title: mi.Title, Year: mi.Year, Genres: genres, Tags: mi.Tags, Overview: mi.Overview},
		"model_version": sv.version,
	})
}

// similarItem is one entry of /v1/movies/{id}/similar.
type similarItem struct {
	MovieID string  `json:"movie_id"`
	Title   string  `json:"title"`
	Score   float64 `json:"score"`
}

func (s *Service) similar(c *fiber.Ctx, sv *serving) error {
	id := c.Params("id")
	k := s.cfg.DefaultTopK
	if q := c.Query("k"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			return badRequest(c, fiber.StatusBadRequest, "k", fmt.Sprintf("k: must be an integer, got %q", q))
		}
		k = n
	}
	items, err := sv.model.Similar(id, k)
	var qe *recommend.QueryError
	switch {
	case errors.As(err, &qe):
		return badRequest(c, fiber.StatusUnprocessableEntity, qe.Field, qe.Error())
	case errors.Is(err, recommend.ErrUnknownMovie):
		return badRequest(c, fiber.StatusNotFound, "id", fmt.Sprintf("movie %q not found in model %s", id, sv.version))
	case err != nil:
		return fmt.Errorf("similar to %q on model %s: %w", id, sv.version, err)
	}
	out := make([]similarItem, len(items))
	for i, it := range items {
		out[i] = similarItem{MovieID: it.MovieID, Title: it.Title, Score: round(it.Score, 4)}
	}
	return c.JSON(fiber.Map{"movie_id": id, "similar": out, "model_version": sv.version})
}
