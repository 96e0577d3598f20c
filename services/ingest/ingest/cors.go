package ingest

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// corsHandler answers CORS preflights on every route and lets the
// configured origins (Config.CORSOrigins, INGEST_CORS_ORIGINS; "*" for any)
// post events from a browser: the swipe deck page, served by the api on
// another port, sends its swipes here. With none configured a preflight
// still gets its 204, without the Access-Control-Allow-Origin header, so
// the browser refuses the call. Registered before the routes and before
// the token check: a preflight carries no token.
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
