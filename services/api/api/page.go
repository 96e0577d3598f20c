package api

import (
	"embed"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

// The page at / (web/) and the assets of the interactive API docs at /docs
// (swaggerui/: Swagger UI, vendored). Everything is embedded: no CDN, and
// the pages work offline.
var (
	//go:embed web
	webFiles embed.FS
	//go:embed swaggerui
	swaggerFiles embed.FS
)

// Routes of the page and of the assets.
const (
	routePage      = "/"
	routePageAsset = "/ui/:file"
	routeDocsAsset = "/docs/:file"
)

// pageRoutes serves the swipe deck page and the docs' assets. An asset is
// looked up by name in its embedded folder: nothing else is reachable.
func (s *Service) pageRoutes(app *fiber.App) {
	index, err := webFiles.ReadFile("web/index.html")
	if err != nil {
		panic("api: embedded page missing: " + err.Error()) // a build defect, caught by every test
	}
	app.Get(routePage, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(index)
	})
	app.Get(routePageAsset, serveEmbedded(webFiles, "web"))
	app.Get(routeDocsAsset, serveEmbedded(swaggerFiles, "swaggerui"))
}

// serveEmbedded answers GET {prefix}/:file from dir of fsys, 404 JSON when
// there is no such file.
func serveEmbedded(fsys embed.FS, dir string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := c.Params("file")
		b, err := fsys.ReadFile(dir + "/" + path.Base(name))
		if err != nil || path.Base(name) != name {
			return badRequest(c, fiber.StatusNotFound, "file", "no such file: "+name)
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = fiber.MIMEOctetStream
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(b)
	}
}
