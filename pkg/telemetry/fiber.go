package telemetry

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// notFoundKey marks, in a Fiber request's locals, a request no route took.
type notFoundKey struct{}

// FiberMiddleware observes every request of a Fiber app under its route
// pattern (OtherEndpoint when FiberNotFound answered it). An error from
// the handlers is turned into its answer by onError first, so the status
// observed is the one sent. Register it first with app.Use.
func (h *HTTP) FiberMiddleware(onError fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := onError(c, err); herr != nil {
				return herr
			}
		}
		endpoint := c.Route().Path // the pattern the app registered, not the request's path
		if c.Locals(notFoundKey{}) != nil {
			endpoint = OtherEndpoint
		}
		h.Observe(Method(c.Method()), endpoint, c.Response().StatusCode(), time.Since(start))
		return nil
	}
}

// NotFoundBody is the JSON answer of every service to a path it does not
// serve, the same shape as their other errors.
type NotFoundBody struct {
	Error string `json:"error"`
}

// notFoundMessage names the method and path that no route takes.
func notFoundMessage(method, path string) string {
	return "not found: no route for " + method + " " + path
}

// FiberNotFound answers a request no route took with a JSON 404. Register
// it last, with app.Use.
func FiberNotFound(c *fiber.Ctx) error {
	c.Locals(notFoundKey{}, true)
	return c.Status(fiber.StatusNotFound).JSON(NotFoundBody{Error: notFoundMessage(c.Method(), c.Path())})
}

// NotFound answers a net/http request no route took with the same JSON 404
// as FiberNotFound.
func NotFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(NotFoundBody{Error: notFoundMessage(r.Method, r.URL.Path)}) //nolint:errcheck // the client went away
}
