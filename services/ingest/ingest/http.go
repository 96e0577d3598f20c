package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/pkg/telemetry"
)

// Endpoint kinds: which field an endpoint requires.
const (
	kindRating = "rating"
	kindSwipe  = "swipe"
)

// acceptedResponse is the 202 body.
type acceptedResponse struct {
	Accepted int      `json:"accepted"`
	EventIDs []string `json:"event_ids"`
}

// errorResponse is every 4xx/5xx body. Items lists each bad item of a
// refused batch.
type errorResponse struct {
	Error string             `json:"error"`
	Items []events.ItemError `json:"items,omitempty"`
}

func (s *Service) newApp() *fiber.App {
	app := fiber.New(s.cfg.Limits.Fiber(fiber.Config{
		AppName:               "swipeflix-ingest",
		DisableStartupMessage: true,
		// Leave room above MaxBodyBytes so that DecodeBatch, not fasthttp,
		// refuses most oversized bodies, with a JSON 413.
		BodyLimit: s.bodyLimit(),
		// Bodies are read by the handler, after the token check, so a
		// request without a token costs its headers, not its body.
		StreamRequestBody: true,
		ErrorHandler:      s.handleError,
	}))
	app.Use(s.metrics.http.FiberMiddleware(s.handleError))
	app.Use(svcmain.CORS(s.cfg.CORSOrigins)) // the page on the api's port posts swipes here
	app.Get("/health", s.handleHealth)
	app.Get("/ready", s.handleReady)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	v1 := app.Group("/v1", s.authenticate)
	v1.Post("/ratings", s.handleEvents(kindRating))
	v1.Post("/swipes", s.handleEvents(kindSwipe))
	app.Use(telemetry.FiberNotFound)
	return app
}

// handleError turns an error from a handler or from fasthttp (a body over
// the server's limit, say) into a JSON answer.
func (s *Service) handleError(c *fiber.Ctx, err error) error {
	code := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
	}
	if code == fiber.StatusRequestEntityTooLarge {
		return c.Status(code).JSON(errorResponse{Error: s.tooLarge()})
	}
	return c.Status(code).JSON(errorResponse{Error: err.Error()})
}

// bodyLimit is the HTTP server's own cap on a body: room above
// MaxBodyBytes, so that DecodeBatch, not fasthttp, refuses most oversized
// bodies (an item without an event_id gets one, which adds bytes).
func (s *Service) bodyLimit() int { return int(2*s.cfg.MaxBodyBytes) + 1024 }

func (s *Service) tooLarge() string {
	return fmt.Sprintf("request body larger than the limit of %d bytes", s.cfg.MaxBodyBytes)
}

// authenticate requires a configured bearer token when tokens are set. It
// looks at the headers only: a refused request's body is never read, and
// the connection is closed rather than drained.
func (s *Service) authenticate(c *fiber.Ctx) error {
	if !s.tokens.enabled() || s.tokens.allow(c.Get(fiber.HeaderAuthorization)) {
		return c.Next()
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="swipeflix-ingest"`)
	c.Context().SetConnectionClose()
	return c.Status(fiber.StatusUnauthorized).JSON(errorResponse{Error: "missing or invalid bearer token"})
}

// reserveBody takes the request's announced body size (the largest allowed
// for a body of unknown length) from the in-flight budget, waiting up to
// InflightWait. ok is false when the answer (413 or 503) has been written.
func (s *Service) reserveBody(c *fiber.Ctx) (release func(), ok bool, err error) {
	n := int64(c.Request().Header.ContentLength())
	if n > int64(s.bodyLimit()) {
		c.Context().SetConnectionClose()
		return nil, false, c.Status(fiber.StatusRequestEntityTooLarge).JSON(errorResponse{Error: s.tooLarge()})
	}
	if n < 0 { // chunked: unknown until read
		n = int64(s.bodyLimit())
	}
	n = min(n, s.cfg.MaxInflightBodyBytes) // a body larger than the budget takes all of it

	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.InflightWait)
	defer cancel()
	if err := s.inflight.Acquire(ctx, n); err != nil {
		s.setRetryAfter(c)
		c.Context().SetConnectionClose()
		return nil, false, c.Status(fiber.StatusServiceUnavailable).JSON(errorResponse{
			Error: fmt.Sprintf("busy: %d bytes of request bodies are being read; retry later", s.cfg.MaxInflightBodyBytes),
		})
	}
	return func() { s.inflight.Release(n) }, true, nil
}

func (s *Service) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "healthy", "service": serviceName})
}

// handleReady answers 200 when Kafka answers a metadata request.
func (s *Service) handleReady(c *fiber.Ctx) error {
	if err := kafkabus.Ping(c.UserContext(), s.cfg.Brokers, time.Second); err != nil {
		s.setRetryAfter(c)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not ready", "reason": "kafka unreachable"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// handleEvents decodes a batch, refuses it whole if any item is bad, and
// otherwise writes every event to Kafka (key = user id) and answers 202
// with the accepted ids once Kafka acknowledged all of them.
func (s *Service) handleEvents(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		release, ok, err := s.reserveBody(c)
		if !ok {
			return err
		}
		defer release()
		body := c.Body()
		evs, bad, err := events.DecodeBatch(bytes.NewReader(body), s.cfg.MaxBodyBytes)
		if err == nil && missingID(bad) {
			// Items without an event_id get one derived from their bytes;
			// the body already passed the size check, so the ids may add to it.
			evs, bad, err = events.DecodeBatch(bytes.NewReader(fillEventIDs(body)), 2*s.cfg.MaxBodyBytes)
		}
		switch {
		case errors.Is(err, events.ErrTooLarge):
			s.metrics.events.WithLabelValues(kind, "rejected").Inc()
			return c.Status(fiber.StatusRequestEntityTooLarge).JSON(errorResponse{Error: err.Error()})
		case err != nil:
			s.metrics.events.WithLabelValues(kind, "rejected").Inc()
			return c.Status(fiber.StatusBadRequest).JSON(errorResponse{Error: err.Error()})
		}
		total := len(evs) + len(bad)
		now := time.Now()
		bad = append(bad, checkEach(evs, bad, func(e *events.Event) *events.ItemError {
			return s.checkEvent(kind, e, now)
		})...)
		if len(bad) > 0 {
			s.metrics.events.WithLabelValues(kind, "rejected").Add(float64(total))
			sortItems(bad)
			return c.Status(fiber.StatusBadRequest).JSON(errorResponse{
				Error: fmt.Sprintf("%d of %d events are invalid; none was accepted", len(bad), total),
				Items: bad,
			})
		}

		msgs := make([]kafkabus.Message, len(evs))
		ids := make([]string, len(evs))
		for i, e := range evs {
			value, err := events.Encode(e)
			if err != nil {
				// Decode validated e; failing here is a bug, not bad input.
				return fiber.NewError(fiber.StatusInternalServerError, "encode event "+e.EventID+": "+err.Error())
			}
			msgs[i] = kafkabus.Message{Key: []byte(e.UserID), Value: value}
			ids[i] = e.EventID
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.KafkaTimeout)
		defer cancel()
		if err := s.prod.Publish(ctx, msgs); err != nil {
			s.log.Warn("publish batch", "events", len(msgs), "err", err)
			s.setRetryAfter(c)
			return c.Status(fiber.StatusServiceUnavailable).JSON(errorResponse{Error: unavailable})
		}
		s.metrics.events.WithLabelValues(kind, "accepted").Add(float64(len(evs)))
		return c.Status(fiber.StatusAccepted).JSON(acceptedResponse{Accepted: len(ids), EventIDs: ids})
	}
}

func (s *Service) setRetryAfter(c *fiber.Ctx) {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(s.cfg.RetryAfter/time.Second)))
}

// unavailable is the 503 body when Kafka did not confirm a batch in time.
// The broker may still append what it was sent, so it promises nothing
// either way: the client retries with the same event ids, which makes the
// retry idempotent (consumers keep one event per id and the latest by
// event time).
const unavailable = "the event log did not confirm these events in time; some may still be written. " +
	"Retry later with the same event_id values: a retry is idempotent"

// checkEvent reports what the endpoint refuses in a valid event: the field
// it requires (a swipe posted to /v1/ratings, a rating to /v1/swipes) and an
// event time too far ahead of this service's clock.
func (s *Service) checkEvent(kind string, e *events.Event, now time.Time) *events.ItemError {
	switch {
	case kind == kindRating && e.Rating == nil:
		return &events.ItemError{Field: "rating", Reason: "required on /v1/ratings (this is a swipe: post it to /v1/swipes)"}
	case kind == kindSwipe && e.Swipe == "":
		return &events.ItemError{Field: "swipe", Reason: "required on /v1/swipes (this is a rating: post it to /v1/ratings)"}
	}
	if err := e.CheckClock(now, s.cfg.MaxClockSkew); err != nil {
		var fe *events.FieldError
		if errors.As(err, &fe) {
			return &events.ItemError{Field: fe.Field, Reason: fe.Reason}
		}
		return &events.ItemError{Reason: err.Error()}
	}
	return nil
}

// checkEach runs check on every valid event and returns its refusals with
// their batch indexes. A valid event's batch index is found by skipping the
// indexes of the bad items, since DecodeBatch returns the valid events in
// order.
func checkEach(evs []events.Event, bad []events.ItemError, check func(*events.Event) *events.ItemError) []events.ItemError {
	badIdx := make(map[int]bool, len(bad))
	for _, b := range bad {
		badIdx[b.Index] = true
	}
	var out []events.ItemError
	idx := 0
	for i := range evs {
		for badIdx[idx] {
			idx++
		}
		if ie := check(&evs[i]); ie != nil {
			ie.Index = idx
			out = append(out, *ie)
		}
		idx++
	}
	return out
}

func sortItems(items []events.ItemError) {
	slices.SortFunc(items, func(a, b events.ItemError) int { return a.Index - b.Index })
}
