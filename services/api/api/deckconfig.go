package api

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/swipeflix/swipeflix/pkg/deck"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

// DeckConfig configures the swipe deck, the page at / and CORS. It is part
// of Config; each setting has one flag and one environment variable.
type DeckConfig struct {
	// IngestURL is where the page sends swipes, as the browser reaches
	// ingest: a URL (http://swipes.example.com), or ":PORT" for the page's
	// own host on that port, which is what the one-binary run uses
	// (ingest on :8001 beside the api on :8000).
	IngestURL string
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// call the api; "*" allows any. Empty allows none: preflights are
	// answered without permission.
	CORSOrigins []string
	// Size is the number of cards when a deck request gives none.
	Size int
	// ExploreShare is the share of each deck from outside the user's top
	// list (0..1).
	ExploreShare float64
	// PersonalAfter is the number of rated or swiped movies after which a
	// deck is all personal (popular and genre-spread before).
	PersonalAfter int
	// Memory bounds the impressions remembered per user (oldest forgotten
	// first).
	Memory int
	// TTL forgets a user's impressions this long after their last deck.
	TTL time.Duration
}

// defaultDeckConfig is the deck's part of DefaultConfig.
func defaultDeckConfig() DeckConfig {
	d := deck.DefaultSettings()
	return DeckConfig{
		IngestURL:     ":8001",
		Size:          d.Size,
		ExploreShare:  d.ExploreShare,
		PersonalAfter: d.PersonalAfter,
		Memory:        2000,
		TTL:           90 * 24 * time.Hour,
	}
}

// validate adds the deck settings' problems to p.
func (c DeckConfig) validate(p *envconfig.Problems) {
	if err := checkIngestURL(c.IngestURL); err != nil {
		p.Add("ingest url", "%v", err)
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			p.Add("cors origins", "%v", err)
		}
	}
	s := c.settings(c.Size)
	if err := s.Validate(); err != nil {
		p.Add("deck", "%v", err)
	}
	if c.Memory < 1 {
		p.Add("deck memory", "must be >= 1, got %d", c.Memory)
	}
	if c.TTL < 0 {
		p.Add("deck ttl", "must be >= 0, got %s", c.TTL)
	}
}

// settings are the dealing settings for a deck of size cards.
func (c DeckConfig) settings(size int) deck.Settings {
	s := deck.DefaultSettings()
	s.Size, s.ExploreShare, s.PersonalAfter = size, c.ExploreShare, c.PersonalAfter
	return s
}

func checkIngestURL(v string) error {
	if v == "" {
		return nil // the page then says swipes cannot be sent
	}
	if port, ok := strings.CutPrefix(v, ":"); ok {
		if _, err := fmt.Sscanf(port, "%d", new(int)); err != nil || strings.ContainsAny(port, "/?#") {
			return fmt.Errorf("%q: want a URL or :PORT", v)
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http(s) URL or :PORT", v)
	}
	return nil
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%q: want scheme://host[:port] or *", o)
	}
	return nil
}

// registerSettings declares the deck settings, each with its flag and
// environment variable.
func (c *DeckConfig) registerSettings(s *envconfig.Settings) {
	s.String(&c.IngestURL, "api.ingest-url", "API_INGEST_URL", "where the page at / sends swipes: an ingest URL, or :PORT on the page's own host")
	s.List(&c.CORSOrigins, "api.cors-origins", "API_CORS_ORIGINS", "comma-separated origins allowed to call the api from a browser (* for any; empty for none)")
	s.Int(&c.Size, "api.deck-size", "API_DECK_SIZE", "cards in a deck when the request gives no size")
	s.Float(&c.ExploreShare, "api.deck-explore", "API_DECK_EXPLORE", "share of each deck from outside the user's top list (0..1)")
	s.Int(&c.PersonalAfter, "api.deck-personal-after", "API_DECK_PERSONAL_AFTER", "rated or swiped movies after which a deck is all personal")
	s.Int(&c.Memory, "api.deck-memory", "API_DECK_MEMORY", "impressions (dealt movies) remembered per user")
	s.Duration(&c.TTL, "api.deck-ttl", "API_DECK_TTL", "forget a user's impressions this long after their last deck (0: never)")
}
