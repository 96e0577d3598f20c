package svcmain

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// CORS is Fiber's CORS middleware allowing exactly origins ("*": any),
// compared case-insensitively and without a trailing slash. It answers
// preflights on every route, so register it before the routes (and before
// a token check: a preflight carries no token). With no origin configured
// a preflight still gets its 204, without Access-Control-Allow-Origin, so
// the browser refuses the call.
func CORS(origins []string) fiber.Handler {
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
