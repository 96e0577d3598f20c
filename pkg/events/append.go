package events

import (
	"encoding/json"
	"strconv"
	"time"
)

// appendJSON appends e's JSON form to b: byte for byte what json.Marshal
// gives, without reflection, for the events that publishing a dataset
// makes by the million (plain ASCII ids, a rating or a swipe, a time
// within years 0..9999). Any other event goes through json.Marshal.
func appendJSON(b []byte, e Event) ([]byte, error) {
	if !plain(e.EventID) || !plain(e.UserID) || !plain(e.MovieID) || !plain(string(e.Swipe)) || !plain(e.Source) ||
		(e.Rating != nil && !(*e.Rating >= 1e-6 && *e.Rating < 1e21)) || e.TS.Year() < 0 || e.TS.Year() > 9999 {
		m, err := json.Marshal(e)
		return append(b, m...), err
	}
	b = append(b, `{"event_id":"`...)
	b = append(b, e.EventID...)
	b = append(b, `","user_id":"`...)
	b = append(b, e.UserID...)
	b = append(b, `","movie_id":"`...)
	b = append(b, e.MovieID...)
	b = append(b, '"')
	if e.Rating != nil {
		// encoding/json's format for a float64 of this magnitude.
		b = append(b, `,"rating":`...)
		b = strconv.AppendFloat(b, *e.Rating, 'f', -1, 64)
	}
	if e.Swipe != "" {
		b = append(b, `,"swipe":"`...)
		b = append(b, e.Swipe...)
		b = append(b, '"')
	}
	// time.Time's MarshalJSON: RFC 3339 with as many fractional digits as
	// needed.
	b = append(b, `,"ts":"`...)
	b = e.TS.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Source != "" {
		b = append(b, `,"source":"`...)
		b = append(b, e.Source...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

// plain reports whether encoding/json writes s as it is between quotes:
// printable ASCII other than the characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
