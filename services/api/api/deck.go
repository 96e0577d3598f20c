package api

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"

	"github.com/swipeflix/swipeflix/pkg/deck"
	"github.com/swipeflix/swipeflix/pkg/impressions"
	"github.com/swipeflix/swipeflix/pkg/moviesearch"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Routes of the swipe deck, the catalog search and the page's config.
const (
	routeDeck    = "/v1/deck"
	routeMovies  = "/v1/movies"
	routeConfig  = "/v1/config"
	routeExplain = "/v1/explain"
)

// catalogViews are what the deck and the search read of one model's
// catalog, built once when the model is swapped in (off the request path).
// Movies folded in by deltas after the swap are dealt (the model ranks
// them) but found by search only from the next swap on.
type catalogViews struct {
	deck   *deck.Catalog
	search *moviesearch.Index
}

func newCatalogViews(m *recommend.Model) *catalogViews {
	items := m.Catalog()
	return &catalogViews{deck: deck.NewCatalog(items), search: moviesearch.NewIndex(items)}
}

// impressionStore remembers the movies dealt to each user;
// *impressions.KV and *impressions.Memory are two.
type impressionStore interface {
	Update(ctx context.Context, user string, deal impressions.DealFunc) error
}

var (
	_ impressionStore = (*impressions.KV)(nil)
	_ impressionStore = (*impressions.Memory)(nil)
)

// deckState is the service's deck part: where impressions are kept.
type deckState struct {
	once  sync.Once
	store atomic.Pointer[impressionStore]
	// kind is "nats-kv" or "memory", for logs and /v1/config.
	kind atomic.Pointer[string]
}

// maxMemoryUsers bounds the in-memory store's users.
const maxMemoryUsers = 100000

// impressions returns the store: the NATS KV bucket once Serve opened it,
// else an in-memory one (an api built without a NATS connection).
func (s *Service) impressions() impressionStore {
	s.deck.once.Do(func() {
		if s.deck.store.Load() == nil {
			var st impressionStore = impressions.NewMemory(s.cfg.Deck.Memory, maxMemoryUsers)
			s.deck.store.CompareAndSwap(nil, &st)
			kind := "memory"
			s.deck.kind.CompareAndSwap(nil, &kind)
		}
	})
	return *s.deck.store.Load()
}

// conner is a model source with a NATS connection (*modelbus.Bus).
type conner interface{ Conn() *nats.Conn }

// openImpressions keeps the deck's impressions in the JetStream KV bucket
// SWIPEFLIX_DECK when src has a NATS connection: shared by every api
// replica and surviving restarts. Without one, or when the bucket cannot be
// opened (logged), they stay in memory.
func (s *Service) openImpressions(ctx context.Context, src Source) {
	c, ok := src.(conner)
	if !ok {
		s.log.Info("deck impressions kept in memory: the model source has no NATS connection")
		return
	}
	kv, err := impressions.OpenKV(ctx, c.Conn(), impressions.KVConfig{MaxPerUser: s.cfg.Deck.Memory, TTL: s.cfg.Deck.TTL})
	if err != nil {
		s.log.Error("deck impressions kept in memory: a restart forgets them", "err", err)
		return
	}
	var st impressionStore = kv
	s.deck.store.Store(&st)
	kind := "nats-kv"
	s.deck.kind.Store(&kind)
}

// deckRoutes registers the deck, search, explain and config routes and the
// page.
func (s *Service) deckRoutes(app *fiber.App) {
	app.Post(routeDeck, s.withModel(s.dealDeck))
	app.Get(routeMovies, s.withModel(s.searchMovies))
	app.Post(routeExplain, s.withModel(s.explain))
	app.Get(routeConfig, s.pageConfig)
	s.pageRoutes(app)
}

// deckRequest is the body of POST /v1/deck.
type deckRequest struct {
	UserID flexID `json:"user_id"`
	Size   *int   `json:"size"`
}

// cardBody is one card of a deck answer.
type cardBody struct {
	MovieID string   `json:"movie_id"`
	Title   string   `json:"title"`
	Genres  []string `json:"genres"`
	Year    int      `json:"year,omitempty"`
	Reason  string   `json:"reason"`
	Explore bool     `json:"explore"`
}

// deckResponse is the answer of POST /v1/deck.
type deckResponse struct {
	UserID       string     `json:"user_id"`
	Cards        []cardBody `json:"cards"`
	ModelVersion string     `json:"model_version"`
}

// deckTimeout bounds the impressions round trip of one deal.
const deckTimeout = 5 * time.Second

// dealDeck answers POST /v1/deck: the next cards for a user, remembered as
// dealt so that no later deck repeats them.
func (s *Service) dealDeck(c *fiber.Ctx, sv *serving) error {
	var req deckRequest
	if field, err := decodeUserBody(c.Body(), &req, &req.UserID, "a JSON object with user_id"); err != nil {
		return badRequest(c, fiber.StatusBadRequest, field, err.Error())
	}
	size := s.cfg.Deck.Size
	if req.Size != nil {
		size = *req.Size
	}
	if size < 1 || size > deck.MaxSize {
		return badRequest(c, fiber.StatusUnprocessableEntity, "size", fmt.Sprintf("size: must be 1..%d, got %d", deck.MaxSize, size))
	}
	user := string(req.UserID)
	settings := s.cfg.Deck.settings(size)
	ctx, cancel := context.WithTimeout(c.UserContext(), deckTimeout)
	defer cancel()
	var cards []deck.Card
	err := s.impressions().Update(ctx, user, func(dealt []string) ([]string, error) {
		settings.Seed = deckSeed(user, len(dealt))
		var err error
		cards, err = deck.Deal(sv.model, sv.views.deck, user, dealt, settings)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(cards))
		for i, cd := range cards {
			ids[i] = cd.MovieID
		}
		return ids, nil
	})
	if err != nil {
		s.log.Error("deal deck", "user", user, "err", err)
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Error: "the deck's impressions store is unavailable; nothing was dealt"})
	}
	out := deckResponse{UserID: user, Cards: make([]cardBody, len(cards)), ModelVersion: sv.version}
	for i, cd := range cards {
		out.Cards[i] = cardBody{MovieID: cd.MovieID, Title: cd.Title, Genres: cd.Genres, Year: cd.Year, Reason: cd.Reason, Explore: cd.Explore}
	}
	return c.JSON(out)
}

// deckSeed makes each deck of a user differ while a retry of the same deal
// (same impressions) deals alike.
func deckSeed(user string, dealt int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(user))
	return h.Sum64() ^ uint64(dealt)*0x9e3779b97f4a7c15
}

// searchMovie is one hit of GET /v1/movies.
type searchMovie struct {
	MovieID string   `json:"movie_id"`
	Title   string   `json:"title"`
	Year    int      `json:"year,omitempty"`
	Genres  []string `json:"genres"`
	Ratings int      `json:"ratings"`
}

// Paging of GET /v1/movies.
const (
	defaultSearchLimit = 20
	maxSearchOffset    = 100000
)

// searchMovies answers GET /v1/movies?q=&genre=&limit=&offset=.
func (s *Service) searchMovies(c *fiber.Ctx, sv *serving) error {
	q := moviesearch.Query{Q: c.Query("q"), Genre: c.Query("genre"), Limit: defaultSearchLimit}
	for _, p := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"limit", &q.Limit, 1, moviesearch.MaxLimit}, {"offset", &q.Offset, 0, maxSearchOffset}} {
		v := c.Query(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequest(c, fiber.StatusBadRequest, p.name, fmt.Sprintf("%s: must be an integer, got %q", p.name, v))
		}
		if n < p.min || n > p.max {
			return badRequest(c, fiber.StatusUnprocessableEntity, p.name, fmt.Sprintf("%s: must be %d..%d, got %d", p.name, p.min, p.max, n))
		}
		*p.dst = n
	}
	page, total, err := sv.views.search.Search(q)
	if err != nil {
		var qe *moviesearch.QueryError
		if errors.As(err, &qe) {
			return badRequest(c, fiber.StatusUnprocessableEntity, qe.Field, qe.Error())
		}
		return fmt.Errorf("search movies: %w", err)
	}
	out := make([]searchMovie, len(page))
	for i, m := range page {
		g := m.Genres
		if g == nil {
			g = []string{}
		}
		out[i] = searchMovie{MovieID: m.ID, Title: m.Title, Year: m.Year, Genres: g, Ratings: m.Raters}
	}
	return c.JSON(fiber.Map{"movies": out, "total": total, "model_version": sv.version})
}

// explainRequest is the body of POST /v1/explain.
type explainRequest struct {
	UserID   flexID   `json:"user_id"`
	MovieIDs []string `json:"movie_ids"`
}

// maxExplain bounds the movies of one explain request.
const maxExplain = 50

// explain answers POST /v1/explain: for each movie, "because you liked X"
// where the model can tell (the page's top picks use it).
func (s *Service) explain(c *fiber.Ctx, sv *serving) error {
	var req explainRequest
	if field, err := decodeUserBody(c.Body(), &req, &req.UserID, "a JSON object with user_id"); err != nil {
		return badRequest(c, fiber.StatusBadRequest, field, err.Error())
	}
	if len(req.MovieIDs) > maxExplain {
		return badRequest(c, fiber.StatusUnprocessableEntity, "movie_ids", fmt.Sprintf("movie_ids: at most %d, got %d", maxExplain, len(req.MovieIDs)))
	}
	reasons := deck.Reasons(sv.model, sv.views.deck, string(req.UserID), req.MovieIDs)
	return c.JSON(fiber.Map{"user_id": string(req.UserID), "reasons": reasons, "model_version": sv.version})
}

// pageConfig answers GET /v1/config: what the page at / needs to know.
func (s *Service) pageConfig(c *fiber.Ctx) error {
	kind := "memory"
	if k := s.deck.kind.Load(); k != nil {
		kind = *k
	}
	return c.JSON(fiber.Map{
		"ingest_url":    resolveIngestURL(s.cfg.Deck.IngestURL, c.Protocol(), c.Hostname()),
		"deck_size":     s.cfg.Deck.Size,
		"explore_share": s.cfg.Deck.ExploreShare,
		"impressions":   kind,
	})
}

// resolveIngestURL turns ":PORT" into scheme://host:PORT for the host the
// browser used to reach the api; a full URL is returned as configured.
func resolveIngestURL(configured, scheme, hostport string) string {
	port, ok := strings.CutPrefix(configured, ":")
	if !ok {
		return configured
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
