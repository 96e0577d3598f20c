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
	app := fiber.New(fiber.Config{
		AppName:               "swipeflix-ingest",
		DisableStartupMessage: true,
		// Leave room above MaxBodyBytes so that DecodeBatch, not fasthttp,
		// refuses most oversized bodies, with a JSON 413.
		BodyLimit:    int(2*s.cfg.MaxBodyBytes) + 1024,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			return c.Status(code).JSON(errorResponse{Error: err.Error()})
		},
	})
	app.Use(s.instrument)
	app.Use(corsHandler(s.cfg.CORSOrigins))
	app.Get("/health", s.handleHealth)
	app.Get("/ready", s.handleReady)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	v1 := app.Group("/v1", s.authenticate)
	v1.Post("/ratings", s.handleEvents(kindRating))
	v1.Post("/swipes", s.handleEvents(kindSwipe))
	return app
}

// instrument records every request's count and latency by route.
func (s *Service) instrument(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		} else {
			status = fiber.StatusInternalServerError
		}
	}
	endpoint := c.Route().Path
	if status == fiber.StatusNotFound && endpoint == "/" {
		endpoint = "unmatched"
	}
	s.metrics.http.Observe(c.Method(), endpoint, status, time.Since(start))
	return err
}

// authenticate requires a configured bearer token when tokens are set.
func (s *Service) authenticate(c *fiber.Ctx) error {
	if !s.tokens.enabled() || s.tokens.allow(c.Get(fiber.HeaderAuthorization)) {
		return c.Next()
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="swipeflix-ingest"`)
	return c.Status(fiber.StatusUnauthorized).JSON(errorResponse{Error: "missing or invalid bearer token"})
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
		bad = append(bad, wrongKind(kind, evs, bad)...)
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
			return c.Status(fiber.StatusServiceUnavailable).JSON(errorResponse{
				Error: "the event log is unavailable; nothing was accepted, retry later",
			})
		}
		s.metrics.events.WithLabelValues(kind, "accepted").Add(float64(len(evs)))
		return c.Status(fiber.StatusAccepted).JSON(acceptedResponse{Accepted: len(ids), EventIDs: ids})
	}
}

func (s *Service) setRetryAfter(c *fiber.Ctx) {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(s.cfg.RetryAfter/time.Second)))
}

// wrongKind reports the valid events that lack the field the endpoint
// requires (a swipe posted to /v1/ratings, a rating to /v1/swipes). A valid
// event's batch index is found by skipping the indexes of the bad items,
// since DecodeBatch returns the valid events in order.
func wrongKind(kind string, evs []events.Event, bad []events.ItemError) []events.ItemError {
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
		e := &evs[i]
		switch {
		case kind == kindRating && e.Rating == nil:
			out = append(out, events.ItemError{Index: idx, Field: "rating",
				Reason: "required on /v1/ratings (this is a swipe: post it to /v1/swipes)"})
		case kind == kindSwipe && e.Swipe == "":
			out = append(out, events.ItemError{Index: idx, Field: "swipe",
				Reason: "required on /v1/swipes (this is a rating: post it to /v1/ratings)"})
		}
		idx++
	}
	return out
}

func sortItems(items []events.ItemError) {
	slices.SortFunc(items, func(a, b events.ItemError) int { return a.Index - b.Index })
}
