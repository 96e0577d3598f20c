package api

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

var (
	fitMu  sync.Mutex
	fitted = map[string]*recommend.Model{}
)

// fitDataset fits the default model on a MovieLens folder once per test
// binary; it skips when the dataset is absent.
func fitDataset(b *testing.B, name string) (*recommend.Model, []string) {
	b.Helper()
	src := datasettest.Open(b, name)
	ratings, err := src.LoadAll()
	if err != nil {
		b.Fatal(err)
	}
	var users []string
	seen := map[string]bool{}
	for _, r := range ratings {
		if !seen[r.User] {
			seen[r.User] = true
			users = append(users, r.User)
		}
	}
	fitMu.Lock()
	defer fitMu.Unlock()
	if m, ok := fitted[name]; ok {
		return m, users
	}
	movies, err := dataset.ReadMovies(src.MoviesPath)
	if err != nil {
		b.Fatal(err)
	}
	ts := recommend.TrainSet{Interactions: make([]recommend.Interaction, len(ratings))}
	for i, r := range ratings {
		ts.Interactions[i] = recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value}
	}
	for _, mv := range movies {
		ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: mv.ID, Title: mv.Title, Year: mv.Year, Genres: mv.Genres, Tags: mv.Tags})
	}
	m, err := recommend.Fit(ts, recommend.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	fitted[name] = m
	return m, users
}

// BenchmarkPredict runs POST /predict (top_k 10, 256 users in turn) through
// the Fiber handler in-process: routing, metrics middleware, decoding,
// ranking (uncached) or the answer cache (cached), encoding. No network;
// see docs/api.md for figures and the load-generator numbers.
//
//	go test -run '^$' -bench Predict -benchmem ./services/api/api/
func BenchmarkPredict(b *testing.B) {
	cases := []struct {
		name  string
		model func(b *testing.B) (*recommend.Model, []string)
	}{
		{"tiny", func(b *testing.B) (*recommend.Model, []string) {
			var users []string
			for u := range 40 {
				users = append(users, fmt.Sprintf("u%d", u))
			}
			return testModel(b, 1), users
		}},
		{"ml-100k", func(b *testing.B) (*recommend.Model, []string) { return fitDataset(b, "ml-100k") }},
		{"ml-latest-small", func(b *testing.B) (*recommend.Model, []string) { return fitDataset(b, "ml-latest-small") }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			model, users := tc.model(b)
			bodies := make([][]byte, min(len(users), 256))
			for i := range bodies {
				bodies[i] = fmt.Appendf(nil, `{"user_id": %q, "top_k": 10}`, users[i])
			}
			for _, cached := range []bool{false, true} {
				s, _ := newTestService(b, nil)
				if !cached {
					s.cfg.CacheEntries = 0
				}
				s.swap(model, modelbus.Manifest{Version: model.Version, Object: "bench", CreatedAt: time.Now()}, "")
				h := s.App().Handler()
				name := map[bool]string{false: "uncached", true: "cached"}[cached]
				b.Run(name, func(b *testing.B) {
					var ctx fasthttp.RequestCtx
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						predictOnce(b, h, &ctx, bodies[i%len(bodies)])
						i++
					}
				})
				b.Run(name+"-parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						var ctx fasthttp.RequestCtx
						i := 0
						for pb.Next() {
							predictOnce(b, h, &ctx, bodies[i%len(bodies)])
							i++
						}
					})
				})
			}
		})
	}
}

func predictOnce(b *testing.B, h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx, body []byte) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/predict")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(body)
	h(ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
