package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// useCORS answers CORS preflights on every route and lets the configured
// origins (Deck.CORSOrigins, API_CORS_ORIGINS) call the api from a
// browser. With none configured a preflight still gets its 204, without
// the Access-Control-Allow-Origin header, so the browser refuses the call.
// It must be registered before the routes: a route that answers does not
// pass the request on.
func (s *Service) useCORS(app *fiber.App) {
	app.Use(corsHandler(s.cfg.Deck.CORSOrigins))
}

// corsHandler is fiber's CORS middleware allowing exactly origins ("*":
// any), compared case-insensitively.
func corsHandler(origins []string) fiber.Handler {
	allowed := make(map[string]bool, len(origins))
	all := false
	for _, o := range origins {
		if o == "*" {
			all = true
		}
		allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return cors.New(cors.Config{
		// The middleware lower-cases the request's Origin before calling.
		AllowOriginsFunc: func(origin string) bool { return all || allowed[origin] },
		AllowMethods:     "GET,POST,HEAD,OPTIONS",
		AllowHeaders:     "Content-Type,Authorization",
		MaxAge:           600,
	})
}
