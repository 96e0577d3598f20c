package api

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// The /predict answer is written by hand into a pooled buffer: it is the
// hot path, and encoding/json would reflect over it on every request.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// The answer is {"user_id","recommendations":[{"movie_id","title","score",
// "predicted_rating"}],"model_version","inference_time_ms","cold_start",
// "cached"}, written in three parts so a cached recommendations array can
// be reused as is.

func appendPredictHead(b []byte, user string) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, user)
	return append(b, `,"recommendations":`...)
}

func appendItems(b []byte, items []recommend.Scored) []byte {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"movie_id":`...)
		b = appendString(b, it.MovieID)
		b = append(b, `,"title":`...)
		b = appendString(b, it.Title)
		b = append(b, `,"score":`...)
		b = appendFloat(b, it.Score, 4)
		b = append(b, `,"predicted_rating":`...)
		b = appendFloat(b, it.Rating, 2)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendPredictTail(b []byte, version string, took time.Duration, cold, cached bool) []byte {
	b = append(b, `,"model_version":`...)
	b = appendString(b, version)
	b = append(b, `,"inference_time_ms":`...)
	b = appendFloat(b, float64(took)/float64(time.Millisecond), 3)
	b = append(b, `,"cold_start":`...)
	b = strconv.AppendBool(b, cold)
	b = append(b, `,"cached":`...)
	b = strconv.AppendBool(b, cached)
	return append(b, '}')
}

// appendFloat writes v with at most prec decimals; JSON has no NaN or
// infinity, so those become null.
func appendFloat(b []byte, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, round(v, prec), 'f', -1, 64)
}

func round(v float64, prec int) float64 {
	p := math.Pow10(prec)
	return math.Round(v*p) / p
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028/U+2029
// escaped so the answer is also safe inside a script.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
