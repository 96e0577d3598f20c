package events

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// appendJSON must write what json.Marshal writes, for every event: the
// plain ones it encodes itself and the rest it hands over.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"", "u1", "movie-42", "a b", `q"uote`, `back\slash`, "<tag>", "a&b", "tab\t", "é", "日本", "\u2028", "\x7f", "\xff", "~!@#$%^*()"}
	str := func() string {
		var s string
		for range r.IntN(3) {
			s += pieces[r.IntN(len(pieces))]
		}
		return s
	}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600), time.FixedZone("z", 61)}
	ratings := []float64{0.5, 1, 2.5, 4, 5, 3.25, 1e-7, 1e21, 1e-6, 123456789, -1, math.SmallestNonzeroFloat64}
	for i := range 20_000 {
		e := Event{EventID: str(), UserID: str(), MovieID: str(), Source: str()}
		if r.IntN(2) == 0 {
			v := ratings[r.IntN(len(ratings))]
			e.Rating = &v
		} else {
			e.Swipe = Swipe(str())
		}
		sec := r.Int64N(400*365*24*3600) - 100*365*24*3600
		if r.IntN(50) == 0 {
			sec = r.Int64N(1<<40) - 1<<39 // years far outside 0..9999
		}
		e.TS = time.Unix(sec, r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
		want, werr := json.Marshal(e)
		got, gerr := appendJSON([]byte("prefix"), e)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("event %d %+v:\nappendJSON %s (%v)\njson       prefix%s (%v)", i, e, got, gerr, want, werr)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e := NewRating("0123456789abcdef0123456789abcdef", "user_123456", "movie_98765", 3.5, time.Unix(1_700_000_000, 0).UTC(), "publish")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}
