package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/telemetry/telemetrytest"
)

func seenBy(user string) map[string]bool {
	seen := map[string]bool{}
	for _, in := range trainSet().Interactions {
		if in.User == user {
			seen[in.Movie] = true
		}
	}
	return seen
}

func TestPredictAnswers(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 3)

	var a predictAnswer
	status, raw := call(t, s, "POST", "/predict", `{"user_id": "u0", "top_k": 5}`, &a)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	if a.UserID != "u0" || a.ModelVersion != "v3" || a.ColdStart || len(a.Recommendations) != 5 || a.InferenceTimeMS == nil {
		t.Fatalf("answer %s", raw)
	}
	seen := seenBy("u0")
	for i, r := range a.Recommendations {
		if seen[r.MovieID] {
			t.Errorf("recommended %s, which u0 has seen", r.MovieID)
		}
		if r.Score == nil || r.Title == "" || r.PredictedRating < 0.5 || r.PredictedRating > 5 {
			t.Errorf("item %d incomplete: %+v", i, r)
		}
		if !strings.HasPrefix(r.MovieID, "A") {
			t.Errorf("u0 loves action, got %s (%s) at rank %d", r.MovieID, r.Title, i)
		}
		if i > 0 && *r.Score > *a.Recommendations[i-1].Score {
			t.Errorf("rank %d scores %v above rank %d's %v", i, *r.Score, i-1, *a.Recommendations[i-1].Score)
		}
	}

	// The title carries quotes: the hand-written encoder must escape them.
	if !strings.Contains(a.Recommendations[0].Title, `"Story"`) {
		t.Errorf("title %q lost its quotes", a.Recommendations[0].Title)
	}
}

func TestPredictOptions(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	ids := func(body string) []string {
		t.Helper()
		ids, _ := predictIDs(t, s, body)
		return ids
	}

	if got := ids(`{"user_id": "u0"}`); len(got) != 10 {
		t.Errorf("default top_k gave %d items, want 10", len(got))
	}
	all := ids(`{"user_id": "u0", "top_k": 8}`)
	if got := ids(`{"user_id": "u0", "top_k": 4, "offset": 4}`); !slices.Equal(got, all[4:8]) {
		t.Errorf("offset 4 gave %v, want %v", got, all[4:8])
	}
	if got := ids(fmt.Sprintf(`{"user_id": "u0", "top_k": 3, "exclude": [%q, %q]}`, all[0], all[1])); !slices.Equal(got, all[2:5]) {
		t.Errorf("exclude gave %v, want %v", got, all[2:5])
	}
	for _, id := range ids(`{"user_id": "u0", "top_k": 5, "genres": ["Romance"]}`) {
		if !strings.HasPrefix(id, "R") {
			t.Errorf("genre filter Romance let %s through", id)
		}
	}
	// Genre names match without regard to case (issue 10, defect 15).
	if got := ids(`{"user_id": "u0", "top_k": 5, "genres": ["rOMANCE"]}`); !slices.Equal(got, ids(`{"user_id": "u0", "top_k": 5, "genres": ["Romance"]}`)) {
		t.Errorf("genre rOMANCE gave %v", got)
	}
	if got := ids(`{"user_id": "u0", "top_k": 2, "surprise": {"nested": [1, 2]}}`); len(got) != 2 {
		t.Errorf("unknown field: got %v", got)
	}

	var cold predictAnswer
	call(t, s, "POST", "/predict", `{"user_id": 987654, "top_k": 3}`, &cold)
	if !cold.ColdStart || cold.UserID != "987654" || len(cold.Recommendations) != 3 {
		t.Errorf("integer id of an unknown user: %+v", cold)
	}
}

func TestPredictBadRequests(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	tests := []struct {
		name, body string
		status     int
		field      string
	}{
		{"empty body", ``, 400, "body"},
		{"malformed", `{"user_id": "u0",`, 400, "body"},
		{"array", `[{"user_id": "u0"}]`, 400, "body"},
		{"missing user", `{"top_k": 5}`, 400, "user_id"},
		{"empty user", `{"user_id": ""}`, 400, "user_id"},
		{"user not a string", `{"user_id": {"id": 1}}`, 400, "user_id"},
		{"user fraction", `{"user_id": 1.5}`, 400, "user_id"},
		{"long user", `{"user_id": "` + strings.Repeat("x", 300) + `"}`, 400, "user_id"},
		{"top_k string", `{"user_id": "u0", "top_k": "5"}`, 400, "top_k"},
		{"top_k zero", `{"user_id": "u0", "top_k": 0}`, 422, "top_k"},
		{"top_k too big", `{"user_id": "u0", "top_k": 5000}`, 422, "top_k"},
		{"offset negative", `{"user_id": "u0", "offset": -1}`, 422, "offset"},
		{"exclude not strings", `{"user_id": "u0", "exclude": [1, 2]}`, 400, "exclude"},
		{"unknown genre", `{"user_id": "u0", "genres": ["Western"]}`, 422, "genres"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e errorBody
			status, raw := call(t, s, "POST", "/predict", tc.body, &e)
			if status != tc.status || e.Field != tc.field || e.Error == "" {
				t.Fatalf("got %d %s, want %d naming field %q", status, raw, tc.status, tc.field)
			}
			if tc.field != "" && !strings.Contains(e.Error, tc.field) {
				t.Errorf("message %q does not name %s", e.Error, tc.field)
			}
		})
	}
}

func TestNoModelYet(t *testing.T) {
	s, _ := newTestService(t, nil)
	for _, path := range []string{"/v1/model", "/v1/movies/A1", "/v1/movies/A1/similar"} {
		var e errorBody
		if status, raw := call(t, s, "GET", path, "", &e); status != 503 || e.Error == "" {
			t.Errorf("GET %s: %d %s, want 503 with an error", path, status, raw)
		}
	}
	var e errorBody
	if status, raw := call(t, s, "POST", "/predict", `{"user_id": "u0"}`, &e); status != 503 || !strings.Contains(e.Error, "no model") {
		t.Errorf("predict: %d %s", status, raw)
	}
	var ready map[string]any
	if status, _ := call(t, s, "GET", "/ready", "", &ready); status != 503 {
		t.Errorf("ready before a model: %d", status)
	}
	var health map[string]any
	if status, _ := call(t, s, "GET", "/health", "", &health); status != 200 || health["model_loaded"] != false || health["status"] != "healthy" {
		t.Errorf("health before a model: %d %v", status, health)
	}
}

func TestHealthAndReady(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 2)
	var health struct {
		Status       string `json:"status"`
		Timestamp    string `json:"timestamp"`
		ModelLoaded  bool   `json:"model_loaded"`
		ModelVersion string `json:"model_version"`
	}
	if status, raw := call(t, s, "GET", "/health", "", &health); status != 200 || health.Status != "healthy" ||
		!health.ModelLoaded || health.ModelVersion != "v2" || health.Timestamp == "" {
		t.Errorf("health: %d %s", status, raw)
	}
	var ready map[string]any
	if status, raw := call(t, s, "GET", "/ready", "", &ready); status != 200 || ready["model_version"] != "v2" {
		t.Errorf("ready: %d %s", status, raw)
	}
}

func TestModelAndMovieEndpoints(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 4)

	var info modelResponse
	var stats struct {
		Stats    modelStats `json:"stats"`
		Manifest struct {
			Version int64  `json:"version"`
			Object  string `json:"object"`
		} `json:"manifest"`
	}
	status, raw := call(t, s, "GET", "/v1/model", "", &info)
	if err := json.Unmarshal(raw, &stats); err != nil {
		t.Fatal(err)
	}
	if status != 200 || info.ModelVersion != "v4" || stats.Manifest.Version != 4 || stats.Manifest.Object != "model-4" ||
		stats.Stats.Movies != 60 || stats.Stats.Users != 40 || info.AgeSeconds < 59 {
		t.Errorf("model: %d %s", status, raw)
	}

	var movie struct {
		Movie        movieBody `json:"movie"`
		ModelVersion string    `json:"model_version"`
	}
	if status, raw := call(t, s, "GET", "/v1/movies/R3", "", &movie); status != 200 || movie.Movie.MovieID != "R3" ||
		movie.Movie.Year != 1993 || !slices.Equal(movie.Movie.Genres, []string{"Romance"}) || movie.ModelVersion != "v4" {
		t.Errorf("movie: %d %s", status, raw)
	}

	var sim struct {
		MovieID string        `json:"movie_id"`
		Similar []similarItem `json:"similar"`
	}
	if status, raw := call(t, s, "GET", "/v1/movies/A2/similar?k=5", "", &sim); status != 200 || len(sim.Similar) != 5 {
		t.Fatalf("similar: %d %s", status, raw)
	}
	for _, it := range sim.Similar {
		if it.MovieID == "A2" || !strings.HasPrefix(it.MovieID, "A") {
			t.Errorf("similar to A2: %s", it.MovieID)
		}
	}

	for _, tc := range []struct {
		path   string
		status int
		field  string
	}{
		{"/v1/movies/Z9", 404, "id"},
		{"/v1/movies/Z9/similar", 404, "id"},
		{"/v1/movies/A2/similar?k=ten", 400, "k"},
		{"/v1/movies/A2/similar?k=0", 422, "k"},
		{"/no/such/route", 404, ""},
	} {
		var e errorBody
		if status, raw := call(t, s, "GET", tc.path, "", &e); status != tc.status || e.Field != tc.field || e.Error == "" {
			t.Errorf("GET %s: %d %s, want %d naming %q", tc.path, status, raw, tc.status, tc.field)
		}
	}
}

// wantString is what encoding/json makes of s, invalid bytes included.
func wantString(t testing.TB, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\x00\x1f",
		"Amélie (2001)", "日本語", "bad utf8 \xff\xfe end", "line sep \u2028 para \u2029", "<script>&"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q encoded as %s: not JSON: %v", s, b, err)
			continue
		}
		if want := wantString(t, s); got != want {
			t.Errorf("%q round-tripped to %q, want %q", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("Amélie \"x\" \\ \n \xff")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := wantString(t, s); got != want {
			t.Fatalf("%q round-tripped to %q, want %q", s, got, want)
		}
	})
}

func TestBodyLimitOverRealHTTP(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	addr := listenApp(t, s)

	// Announce a body over the limit and send only the headers: the server
	// must answer from Content-Length alone (a client still writing the
	// body could see the connection reset instead of the answer).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /predict HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 70<<10)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("413 body is not JSON: %v", err)
	}
	if resp.StatusCode != 413 || e.Error == "" {
		t.Errorf("got %d %+v, want 413 with an error", resp.StatusCode, e)
	}
}

// Under concurrent requests of mixed methods the HTTP metrics keep exact
// label values and the registry keeps gathering (issue 10, defect 1: the
// labels once pointed into fasthttp's reused buffers and /metrics broke).
func TestMetricsSurviveMixedTraffic(t *testing.T) {
	s, reg := newTestService(t, nil)
	serveModel(t, s, 1)
	addr := listenApp(t, s)
	mix := []telemetrytest.Request{
		{Method: "POST", Path: "/predict", Body: `{"user_id":"u1","top_k":5}`},
		{Method: "GET", Path: "/health"},
		{Method: "GET", Path: "/ready"},
		{Method: "POST", Path: "/predict", Body: `{"user_id":"nobody"}`},
		{Method: "GET", Path: "/v1/movies/A1"},
		{Method: "DELETE", Path: "/predict"},
		{Method: "GET", Path: "/no/such/route"},
		{Method: "PATCH", Path: "/health"},
	}
	telemetrytest.MixedTraffic(t, "http://"+addr, mix, 300, 16, reg,
		[]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"},
		[]string{routePredict, routeHealth, routeReady, routeMetrics, routeModel, routeMovie, routeSimilar, routeOpenAPI, routeDocs, "other"})
}

// A 422 for an unknown genre lists the genres the model knows.
func TestUnknownGenreListsTheKnownOnes(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	var e errorBody
	status, raw := call(t, s, "POST", "/predict", `{"user_id": "u0", "genres": ["Western"]}`, &e)
	if status != 422 || !strings.Contains(e.Error, "Action") || !strings.Contains(e.Error, "Romance") {
		t.Errorf("unknown genre: %d %s, want 422 listing Action and Romance", status, raw)
	}
}

// TestPprofOnlyWhenAsked: /debug/pprof/ is served only with Config.Pprof.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		s, _ := newTestService(t, nil)
		s.cfg.Pprof = on
		s.app = s.newApp()
		want := map[bool]int{false: 404, true: 200}[on]
		if code, _ := call(t, s, "GET", "/debug/pprof/", "", nil); code != want {
			t.Errorf("pprof %v: GET /debug/pprof/ = %d, want %d", on, code, want)
		}
	}
}
