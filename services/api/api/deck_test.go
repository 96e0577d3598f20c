package api

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// deckAnswer mirrors the POST /v1/deck response.
type deckAnswer struct {
	UserID string `json:"user_id"`
	Cards  []struct {
		MovieID string   `json:"movie_id"`
		Title   string   `json:"title"`
		Genres  []string `json:"genres"`
		Year    int      `json:"year"`
		Reason  string   `json:"reason"`
		Explore bool     `json:"explore"`
	} `json:"cards"`
	ModelVersion string `json:"model_version"`
}

func (a deckAnswer) ids() []string {
	var out []string
	for _, c := range a.Cards {
		out = append(out, c.MovieID)
	}
	return out
}

func TestDeckDealsWithoutRepeats(t *testing.T) {
	s, _ := newTestService(t, nil)
	if status, raw := call(t, s, "POST", "/v1/deck", `{"user_id": "u0"}`, nil); status != 503 {
		t.Fatalf("deck before a model: %d %s", status, raw)
	}
	serveModel(t, s, 4)
	seen := seenBy("u0")
	var dealt []string
	for round := range 4 {
		var a deckAnswer
		status, raw := call(t, s, "POST", "/v1/deck", `{"user_id": "u0", "size": 5}`, &a)
		if status != 200 || a.UserID != "u0" || a.ModelVersion != "v4" {
			t.Fatalf("round %d: %d %s", round, status, raw)
		}
		if len(a.Cards) == 0 {
			break // the 60-movie catalog ran out
		}
		for _, c := range a.Cards {
			if seen[c.MovieID] || slices.Contains(dealt, c.MovieID) {
				t.Fatalf("round %d: %s dealt again or already rated", round, c.MovieID)
			}
			if c.Title == "" || c.Genres == nil || c.Reason == "" {
				t.Errorf("card incomplete: %+v", c)
			}
			dealt = append(dealt, c.MovieID)
		}
	}
	if len(dealt) < 10 {
		t.Fatalf("dealt only %v", dealt)
	}
	// The default size is the configured one; a newcomer gets popular cards.
	var a deckAnswer
	if status, raw := call(t, s, "POST", "/v1/deck", `{"user_id": 12345}`, &a); status != 200 || len(a.Cards) != 10 || a.UserID != "12345" {
		t.Fatalf("default size: %d %s", status, raw)
	}
	for _, c := range a.Cards {
		if !c.Explore && !strings.HasPrefix(c.Reason, "popular") {
			t.Errorf("newcomer card %+v is neither popular nor exploring", c)
		}
	}
}

func TestDeckBadRequests(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/v1/deck", ``, 400, "body"},
		{"POST", "/v1/deck", `[1]`, 400, "body"},
		{"POST", "/v1/deck", `{"size": 3}`, 400, "user_id"},
		{"POST", "/v1/deck", `{"user_id": "u", "size": "3"}`, 400, "size"},
		{"POST", "/v1/deck", `{"user_id": true}`, 400, "user_id"},
		{"POST", "/v1/deck", `{"user_id": "u", "size": 0}`, 422, "size"},
		{"POST", "/v1/deck", `{"user_id": "u", "size": 51}`, 422, "size"},
		{"POST", "/v1/deck", `{"user_id": "` + strings.Repeat("x", 300) + `"}`, 400, "user_id"},
		{"GET", "/v1/movies?limit=x", ``, 400, "limit"},
		{"GET", "/v1/movies?limit=0", ``, 422, "limit"},
		{"GET", "/v1/movies?offset=-1", ``, 422, "offset"},
		{"GET", "/v1/movies?genre=Western", ``, 422, "genre"},
		{"POST", "/v1/explain", `{"movie_ids": ["A1"]}`, 400, "user_id"},
		{"POST", "/v1/explain", `{"user_id": "u", "movie_ids": "A1"}`, 400, "movie_ids"},
		{"POST", "/v1/explain", fmt.Sprintf(`{"user_id": "u", "movie_ids": [%s]}`, strings.Repeat(`"a",`, 50)+`"a"`), 422, "movie_ids"},
	} {
		var e errorBody
		status, raw := call(t, s, tc.method, tc.path, tc.body, &e)
		if status != tc.status || e.Field != tc.field || !strings.Contains(e.Error, tc.field) {
			t.Errorf("%s %s %.40s: %d %s, want %d naming %s", tc.method, tc.path, tc.body, status, raw, tc.status, tc.field)
		}
	}
	// A refused deck request deals nothing: the next deck starts at the top.
	var first, again deckAnswer
	call(t, s, "POST", "/v1/deck", `{"user_id": "fresh", "size": 0}`, nil)
	call(t, s, "POST", "/v1/deck", `{"user_id": "fresh", "size": 3}`, &first)
	other, _ := newTestService(t, nil)
	serveModel(t, other, 1)
	call(t, other, "POST", "/v1/deck", `{"user_id": "fresh", "size": 3}`, &again)
	if !slices.Equal(first.ids(), again.ids()) {
		t.Errorf("a refused request changed what was dealt: %v vs %v", first.ids(), again.ids())
	}
}

func TestMoviesSearch(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 2)
	var a struct {
		Movies []struct {
			MovieID string   `json:"movie_id"`
			Title   string   `json:"title"`
			Genres  []string `json:"genres"`
			Year    int      `json:"year"`
			Ratings int      `json:"ratings"`
		} `json:"movies"`
		Total int `json:"total"`
	}
	status, raw := call(t, s, "GET", "/v1/movies?q=ROMANCE+sto&limit=5&offset=5", "", &a)
	if status != 200 || a.Total != 30 || len(a.Movies) != 5 {
		t.Fatalf("search: %d %s", status, raw)
	}
	for _, m := range a.Movies {
		if !strings.HasPrefix(m.Title, "Romance") || m.Genres[0] != "Romance" || m.Ratings == 0 || m.Year == 0 {
			t.Errorf("hit %+v", m)
		}
	}
	call(t, s, "GET", "/v1/movies?genre=action&q=7", "", &a)
	if a.Total != 1 || a.Movies[0].MovieID != "A7" {
		t.Errorf("genre and word: %+v", a)
	}
	call(t, s, "GET", "/v1/movies", "", &a)
	if a.Total != 60 || len(a.Movies) != 20 {
		t.Errorf("everything: total %d, page %d", a.Total, len(a.Movies))
	}
}

func TestExplainAndConfig(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 2)
	var p predictAnswer
	call(t, s, "POST", "/predict", `{"user_id": "u0", "top_k": 5}`, &p)
	var ids []string
	for _, r := range p.Recommendations {
		ids = append(ids, r.MovieID)
	}
	body, _ := json.Marshal(map[string]any{"user_id": "u0", "movie_ids": ids})
	var e struct {
		Reasons map[string]string `json:"reasons"`
	}
	if status, raw := call(t, s, "POST", "/v1/explain", string(body), &e); status != 200 || len(e.Reasons) == 0 {
		t.Fatalf("explain: %d %s", status, raw)
	}
	for id, r := range e.Reasons {
		if !strings.HasPrefix(r, "because you liked Action") {
			t.Errorf("%s: %q; u0 likes action", id, r)
		}
	}

	for _, tc := range []struct{ configured, host, want string }{
		{":8001", "localhost:8000", "http://localhost:8001"},
		{":8001", "192.0.2.7:8000", "http://192.0.2.7:8001"},
		{":9", "[::1]:8000", "http://[::1]:9"},
		{"https://swipes.example.com", "localhost:8000", "https://swipes.example.com"},
	} {
		s.cfg.Deck.IngestURL = tc.configured
		req := httptest.NewRequest("GET", "/v1/config", nil)
		req.Host = tc.host
		resp, err := s.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			IngestURL   string `json:"ingest_url"`
			Impressions string `json:"impressions"`
		}
		json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if c.IngestURL != tc.want || c.Impressions != "memory" {
			t.Errorf("ingest %q via host %q: %+v, want %s", tc.configured, tc.host, c, tc.want)
		}
	}
}

func TestDeckConfigValidate(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Deck.IngestURL = "ftp://x" },
		func(c *Config) { c.Deck.IngestURL = ":port" },
		func(c *Config) { c.Deck.CORSOrigins = []string{"localhost:8000"} },
		func(c *Config) { c.Deck.CORSOrigins = []string{"http://a.example/path"} },
		func(c *Config) { c.Deck.ExploreShare = 2 },
		func(c *Config) { c.Deck.Size = 0 },
		func(c *Config) { c.Deck.Memory = 0 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("accepted %+v", cfg.Deck)
		}
	}
	env := map[string]string{"API_CORS_ORIGINS": "http://a.example, https://b.example:8443",
		"API_DECK_EXPLORE": "0.3", "API_INGEST_URL": "http://ingest.example"}
	cfg := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	cfg.RegisterSettings(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || len(cfg.Deck.CORSOrigins) != 2 || cfg.Deck.ExploreShare != 0.3 || cfg.Deck.IngestURL != "http://ingest.example" {
		t.Fatalf("from env: %+v, %v", cfg.Deck, err)
	}
}

// CORS: preflights are answered (they were 405); only configured origins
// get permission, on preflights and on the calls themselves.
func TestCORS(t *testing.T) {
	open := func(origins ...string) *Service {
		reg := prometheus.NewRegistry()
		cfg := DefaultConfig()
		cfg.Deck.CORSOrigins = origins
		s, err := New(cfg, Deps{Registerer: reg, Gatherer: reg})
		if err != nil {
			t.Fatal(err)
		}
		serveModel(t, s, 1)
		return s
	}
	do := func(s *Service, method, path, origin string) *http.Response {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(`{"user_id": "u0"}`)
		}
		req := httptest.NewRequest(method, path, body)
		req.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	none := open()
	if r := do(none, "OPTIONS", "/predict", "http://evil.example"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins configured: preflight %d, allow-origin %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := do(none, "POST", "/predict", "http://evil.example"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins configured: POST %d, allow-origin %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	some := open("http://app.example:3000")
	for _, path := range []string{"/predict", "/v1/deck"} {
		r := do(some, "OPTIONS", path, "http://APP.example:3000")
		if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("allowed origin, preflight %s: %d %v", path, r.StatusCode, r.Header)
		}
	}
	if r := do(some, "POST", "/predict", "http://app.example:3000"); r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" {
		t.Errorf("allowed origin, POST: %d %v", r.StatusCode, r.Header)
	}
	if r := do(some, "OPTIONS", "/predict", "http://app.example:3001"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another port got permission: %v", r.Header)
	}
	if r := do(open("*"), "OPTIONS", "/v1/movies", "http://any.example"); r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("* gave no permission: %v", r.Header)
	}
}

// Impressions live in the NATS KV bucket: an api restarted on the same
// NATS (and a second replica) never deals what the first one dealt.
func TestDeckSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.publish(t, 1, snapshotBytes(t, 1))
	url := h.s.cfg.NATSURL
	serve := func() (string, func()) {
		reg := prometheus.NewRegistry()
		cfg := DefaultConfig()
		cfg.NATSURL = url
		s, err := New(cfg, Deps{Registerer: reg, Gatherer: reg})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, ln) }()
		waitFor(t, "the model", func() bool { return s.servingVersion() == 1 })
		return "http://" + ln.Addr().String(), func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("api stopped with: %v", err)
			}
		}
	}
	deal := func(base string) deckAnswer {
		resp, err := http.Post(base+"/v1/deck", "application/json", strings.NewReader(`{"user_id": "restart-me", "size": 8}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a deckAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
			t.Fatalf("deal: %d %v", resp.StatusCode, err)
		}
		return a
	}
	first, stop := serve()
	a := deal(first)
	stop()
	second, stop2 := serve()
	defer stop2()
	replica, stop3 := serve()
	defer stop3()
	b, c := deal(second), deal(replica)
	all := slices.Concat(a.ids(), b.ids(), c.ids())
	slices.Sort(all)
	if len(a.Cards) != 8 || len(b.Cards) != 8 || len(c.Cards) != 8 || len(slices.Compact(all)) != 24 {
		t.Fatalf("dealt again after a restart or by a replica: %v / %v / %v", a.ids(), b.ids(), c.ids())
	}
	var cfg struct {
		Impressions string `json:"impressions"`
	}
	if httpGetJSON(t, second+"/v1/config", &cfg); cfg.Impressions != "nats-kv" {
		t.Errorf("impressions kept in %q", cfg.Impressions)
	}
}

// GET /v1/movies/{id} carries the tags and overview the catalog has.
func TestMovieCarriesTagsAndOverview(t *testing.T) {
	s, _ := newTestService(t, nil)
	ts := trainSet()
	ts.Movies[0].Tags = []string{"car chase", "heist"}
	ts.Movies[0].Overview = "A crew plans one last job."
	m, err := recommend.Fit(ts, recommend.Config{Factors: 4, RatingFactors: 4})
	if err != nil {
		t.Fatal(err)
	}
	m.Version = 9
	s.swap(m, modelbus.Manifest{Version: 9, Object: modelbus.ObjectName(9), CreatedAt: time.Now()}, "")
	var a struct {
		Movie movieBody `json:"movie"`
	}
	if status, raw := call(t, s, "GET", "/v1/movies/"+ts.Movies[0].ID, "", &a); status != 200 ||
		!slices.Equal(a.Movie.Tags, []string{"car chase", "heist"}) || a.Movie.Overview != "A crew plans one last job." {
		t.Fatalf("movie: %d %s", status, raw)
	}
}
