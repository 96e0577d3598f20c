package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
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

// Decode's canonical path must give decodeJSON's answer: on the encoding
// of random events, and on those encodings with bytes changed, inserted or
// removed (where it must decline or agree, error included).
func TestDecodeCanonicalMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"", "u1", "42", "movie-42", "a b", `q"uote`, "<tag>", "é", "like", "skip", "superlike"}
	alphabet := []byte(`{}":,.0123456789-+eE\ aZT` + "\x00\xff")
	canonical := 0
	for i := range 20_000 {
		e := Event{EventID: pieces[r.IntN(len(pieces))] + "x", UserID: pieces[r.IntN(len(pieces))], MovieID: pieces[r.IntN(len(pieces))]}
		if r.IntN(2) == 0 {
			v := float64(r.IntN(12)) / 2
			if r.IntN(10) == 0 {
				v = r.Float64() * 10
			}
			e.Rating = &v
		} else {
			e.Swipe = Swipe(pieces[r.IntN(len(pieces))])
		}
		if r.IntN(2) == 0 {
			e.Source = pieces[r.IntN(len(pieces))]
		}
		e.TS = time.Unix(r.Int64N(2e9), r.Int64N(1e9)*int64(r.IntN(2))).In(time.FixedZone("", (r.IntN(48)-24)*1800))
		b, err := appendJSON(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		for m := range 4 {
			doc := append([]byte(nil), b...)
			for range m {
				j := r.IntN(len(doc) + 1)
				switch ch := alphabet[r.IntN(len(alphabet))]; r.IntN(3) {
				case 0:
					if j < len(doc) {
						doc[j] = ch
					}
				case 1:
					doc = append(doc[:j], append([]byte{ch}, doc[j:]...)...)
				default:
					if j < len(doc) {
						doc = append(doc[:j], doc[j+1:]...)
					}
				}
			}
			if _, ok := decodeCanonical(doc); ok {
				canonical++
			}
			got, gerr := Decode(doc)
			want, werr := decodeJSON(doc)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("event %d, %d changes: %s\nDecode     %+v (%v)\ndecodeJSON %+v (%v)", i, m, doc, got, gerr, want, werr)
			}
		}
	}
	if canonical < 5_000 {
		t.Fatalf("only %d documents took the canonical path: the test does not exercise it", canonical)
	}
}

func BenchmarkDecode(b *testing.B) {
	e := NewRating("0123456789abcdef0123456789abcdef", "user_123456", "movie_98765", 3.5, time.Unix(1_700_000_000, 0).UTC(), "publish")
	doc, err := Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(doc); err != nil {
			b.Fatal(err)
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
