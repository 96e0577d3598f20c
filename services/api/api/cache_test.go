package api

import (
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

func predictIDs(t *testing.T, s *Service, body string) ([]string, predictAnswer) {
	t.Helper()
	var a predictAnswer
	if status, raw := call(t, s, "POST", "/predict", body, &a); status != 200 {
		t.Fatalf("%s: %d %s", body, status, raw)
	}
	var ids []string
	for _, r := range a.Recommendations {
		ids = append(ids, r.MovieID)
	}
	return ids, a
}

func TestCacheAnswersRepeatsAndInvalidates(t *testing.T) {
	s, _ := newTestService(t, nil)
	serveModel(t, s, 1)
	body := `{"user_id": "u3", "top_k": 6}`
	first, a1 := predictIDs(t, s, body)
	again, a2 := predictIDs(t, s, body)
	if a1.Cached || !a2.Cached || !slices.Equal(first, again) || a2.ColdStart != a1.ColdStart {
		t.Fatalf("first %v cached=%v, again %v cached=%v", first, a1.Cached, again, a2.Cached)
	}
	if _, a := predictIDs(t, s, `{"user_id": "u3", "top_k": 6, "offset": 1}`); a.Cached {
		t.Error("another offset was answered from the cache")
	}
	for range 2 {
		if _, a := predictIDs(t, s, `{"user_id": "u3", "top_k": 6, "genres": ["Action"]}`); a.Cached {
			t.Error("a filtered request was answered from the cache")
		}
	}

	fold := testModel(t, 1)
	apply := func(d recommend.Delta) {
		t.Helper()
		before := s.cur.Load().deltas.Load()
		d.BaseVersion, d.NewestEventMillis = 1, time.Now().UnixMilli()
		payload, err := recommend.EncodeDelta(d)
		if err != nil {
			t.Fatal(err)
		}
		s.applyDelta(1, payload)
		if s.cur.Load().deltas.Load() != before+1 {
			t.Fatal("delta not applied")
		}
	}
	// A delta for another user leaves u3's answer cached; one for u3 drops it.
	predictIDs(t, s, `{"user_id": "u30", "top_k": 6}`)
	apply(recommend.Delta{Seq: 1, Users: []recommend.UserDelta{fold.FoldUser("u30", []recommend.Rated{{Movie: "A1", Value: 5}})}})
	if _, a := predictIDs(t, s, body); !a.Cached {
		t.Error("a delta for u30 dropped u3's answer")
	}
	if _, a := predictIDs(t, s, `{"user_id": "u30", "top_k": 6}`); a.Cached {
		t.Error("u30's answer survived a delta for u30")
	}
	apply(recommend.Delta{Seq: 2, Users: []recommend.UserDelta{fold.FoldUser("u3", []recommend.Rated{{Movie: "R1", Value: 5}})}})
	if _, a := predictIDs(t, s, body); a.Cached {
		t.Error("u3's answer survived a delta for u3")
	}
	// A delta with a movie drops everything: the movie may enter any top K.
	predictIDs(t, s, body)
	apply(recommend.Delta{Seq: 3, Movies: []recommend.MovieDelta{fold.FoldMovie(
		recommend.MovieInfo{ID: "N1", Title: "New Action", Genres: []string{"Action"}}, []recommend.Rater{{User: "u0", Value: 5}})}})
	if _, a := predictIDs(t, s, body); a.Cached {
		t.Error("u3's answer survived a movie delta")
	}
	// A swap starts with an empty cache.
	predictIDs(t, s, body)
	serveModel(t, s, 2)
	if _, a := predictIDs(t, s, body); a.Cached || a.ModelVersion != "v2" {
		t.Errorf("after a swap: cached=%v from %s", a.Cached, a.ModelVersion)
	}
}

func TestCacheRefusesAnswersFromBeforeAnInvalidation(t *testing.T) {
	c := newAnswerCache(100)
	gen := c.generation()
	// A delta lands while the request is ranking on the old state.
	c.invalidate([]string{"someone else"})
	c.put(gen, "u1", cachedAnswer{k: 10, items: []byte("[]")})
	if _, ok := c.get("u1", 10, 0); ok {
		t.Fatal("an answer computed before an invalidation was stored")
	}
	c.put(c.generation(), "u1", cachedAnswer{k: 10, items: []byte("[]")})
	if _, ok := c.get("u1", 10, 0); !ok {
		t.Fatal("a current answer was not stored")
	}
}

func TestCacheStaysBounded(t *testing.T) {
	c := newAnswerCache(cacheShards * 2)
	for i := range 10000 {
		c.put(c.generation(), string(rune('a'+i%26))+string(rune(i)), cachedAnswer{k: 10})
	}
	total := 0
	for i := range c.shards {
		total += c.shards[i].n
		if n := len(c.shards[i].users); n > c.perShard {
			t.Errorf("shard %d holds %d users, limit %d", i, n, c.perShard)
		}
	}
	if total > cacheShards*2 {
		t.Errorf("cache holds %d answers, limit %d", total, cacheShards*2)
	}
}

func TestCacheOff(t *testing.T) {
	s, _ := newTestService(t, nil)
	s.cfg.CacheEntries = 0
	serveModel(t, s, 1)
	for range 2 {
		if _, a := predictIDs(t, s, `{"user_id": "u3"}`); a.Cached {
			t.Fatal("answered from the cache with the cache off")
		}
	}
}
