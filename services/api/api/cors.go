package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// useCORS lets the configured origins (Deck.CORSOrigins, API_CORS_ORIGINS)
// call the api from a browser; see svcmain.CORS. It must be registered
// before the routes: a route that answers does not pass the request on.
func (s *Service) useCORS(app *fiber.App) {
	app.Use(svcmain.CORS(s.cfg.Deck.CORSOrigins))
}
