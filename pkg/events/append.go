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

// decodeCanonical parses b when it is exactly what appendJSON writes for a
// plain event (its fields in its order, plain strings, a decimal rating, a
// time as appendJSON formats it), which is what every producer of ours
// sends, and reports false for anything else. Decode then parses the
// document in full, so a canonical document decodes to what decodeJSON
// gives, only without reflection.
func decodeCanonical(b []byte) (Event, bool) {
	c := cursor{b: b}
	var e Event
	ok := c.lit(`{"event_id":"`) && c.str(&e.EventID) &&
		c.lit(`,"user_id":"`) && c.str(&e.UserID) &&
		c.lit(`,"movie_id":"`) && c.str(&e.MovieID)
	if ok && c.lit(`,"rating":`) {
		var r float64
		ok = c.decimal(&r)
		e.Rating = &r
	}
	if ok && c.lit(`,"swipe":"`) {
		var s string
		ok = c.str(&s)
		e.Swipe = Swipe(s)
	}
	var ts string
	ok = ok && c.lit(`,"ts":"`) && c.str(&ts)
	if ok && c.lit(`,"source":"`) {
		ok = c.str(&e.Source)
	}
	if !ok || !c.lit("}") || c.i != len(b) {
		return Event{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || string(t.AppendFormat(nil, time.RFC3339Nano)) != ts {
		return Event{}, false
	}
	e.TS = t
	return e, true
}

// cursor reads a canonical event document.
type cursor struct {
	b []byte
	i int
}

// lit consumes s if the input continues with it.
func (c *cursor) lit(s string) bool {
	if len(c.b)-c.i < len(s) || string(c.b[c.i:c.i+len(s)]) != s {
		return false
	}
	c.i += len(s)
	return true
}

// str reads plain characters up to the closing quote, and consumes it.
func (c *cursor) str(dst *string) bool {
	start := c.i
	for ; c.i < len(c.b); c.i++ {
		switch ch := c.b[c.i]; {
		case ch == '"':
			*dst = string(c.b[start:c.i])
			c.i++
			return true
		case ch < 0x20 || ch > 0x7e, ch == '\\':
			return false
		}
	}
	return false
}

// decimal reads a JSON number of the form 0 or [1-9][0-9]*, with an
// optional fraction .[0-9]+.
func (c *cursor) decimal(dst *float64) bool {
	start := c.i
	digits := func() int {
		n := 0
		for c.i < len(c.b) && c.b[c.i] >= '0' && c.b[c.i] <= '9' {
			c.i++
			n++
		}
		return n
	}
	n := digits()
	if n == 0 || (n > 1 && c.b[start] == '0') {
		return false
	}
	if c.i < len(c.b) && c.b[c.i] == '.' {
		c.i++
		if digits() == 0 {
			return false
		}
	}
	v, err := strconv.ParseFloat(string(c.b[start:c.i]), 64)
	*dst = v
	return err == nil
}
