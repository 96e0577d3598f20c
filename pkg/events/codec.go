package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// wire is the JSON shape of an event before its fields are checked: each
// field is kept raw so that a wrong JSON type is reported against its field.
// Unknown fields are ignored.
type wire struct {
	EventID json.RawMessage `json:"event_id"`
	UserID  json.RawMessage `json:"user_id"`
	MovieID json.RawMessage `json:"movie_id"`
	Rating  json.RawMessage `json:"rating"`
	Swipe   json.RawMessage `json:"swipe"`
	TS      json.RawMessage `json:"ts"`
	Source  json.RawMessage `json:"source"`
}

// Decode parses one JSON event and validates it. A malformed document wraps
// ErrInvalid; a field of the wrong JSON type, a bad ts or a failed check is a
// *FieldError naming the field. A null field counts as the wrong type, as in
// the JSON Schema.
func Decode(b []byte) (Event, error) {
	if e, ok := decodeCanonical(b); ok {
		if err := checkEarliest(e.TS); err != nil {
			return Event{}, err
		}
		if err := e.Validate(); err != nil {
			return Event{}, err
		}
		return e, nil
	}
	return decodeJSON(b)
}

// decodeJSON is Decode for any JSON document.
func decodeJSON(b []byte) (Event, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' && json.Valid(t) {
		return Event{}, invalid("event", "must be a JSON object, got %s", kindOf(t))
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("%w: malformed JSON: %v", ErrInvalid, err)
	}
	var e Event
	var err error
	if e.EventID, err = str("event_id", w.EventID); err != nil {
		return Event{}, err
	}
	if e.UserID, err = id("user_id", w.UserID); err != nil {
		return Event{}, err
	}
	if e.MovieID, err = id("movie_id", w.MovieID); err != nil {
		return Event{}, err
	}
	if w.Rating != nil {
		if !isNumber(w.Rating) {
			return Event{}, invalid("rating", "must be a number, got %s", kindOf(w.Rating))
		}
		r, err := strconv.ParseFloat(string(w.Rating), 64)
		if err != nil {
			return Event{}, invalid("rating", "%s is not a float64", w.Rating)
		}
		e.Rating = &r
	}
	swipe, err := str("swipe", w.Swipe)
	if err != nil {
		return Event{}, err
	}
	e.Swipe = Swipe(swipe)
	if w.TS != nil {
		s, err := str("ts", w.TS)
		if err != nil {
			return Event{}, err
		}
		if e.TS, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return Event{}, invalid("ts", "%q is not an RFC 3339 time (like 2024-05-01T12:00:00Z)", s)
		}
		// A given time that is the zero value is out of range, not missing.
		if err := checkEarliest(e.TS); err != nil {
			return Event{}, err
		}
	}
	if e.Source, err = str("source", w.Source); err != nil {
		return Event{}, err
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// str decodes a JSON string field; an absent field is "".
func str(field string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	if raw[0] != '"' {
		return "", invalid(field, "must be a string, got %s", kindOf(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid(field, "bad string: %v", err)
	}
	return s, nil
}

// id decodes a user or movie id: a JSON string, or a non-negative integer
// (MovieLens ids often are), kept as its digits, the way POST /predict
// takes user_id. An absent field is "".
func id(field string, raw json.RawMessage) (string, error) {
	if raw == nil || raw[0] == '"' {
		return str(field, raw)
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			if isNumber(raw) {
				return "", invalid(field, "must be a string or an integer, got %s", raw)
			}
			return "", invalid(field, "must be a string or an integer, got %s", kindOf(raw))
		}
	}
	return string(raw), nil
}

func isNumber(raw json.RawMessage) bool {
	return raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
}

// kindOf names the JSON type of a raw value, for error messages.
func kindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Encode validates e and returns its JSON form, the one Decode reads.
func Encode(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	b, err := appendJSON(make([]byte, 0, 160), e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// NewRating returns a rating event.
func NewRating(eventID, userID, movieID string, rating float64, ts time.Time, source string) Event {
	return Event{EventID: eventID, UserID: userID, MovieID: movieID, Rating: &rating, TS: ts, Source: source}
}

// NewSwipe returns a swipe event.
func NewSwipe(eventID, userID, movieID string, swipe Swipe, ts time.Time, source string) Event {
	return Event{EventID: eventID, UserID: userID, MovieID: movieID, Swipe: swipe, TS: ts, Source: source}
}

// ErrTooLarge is returned by DecodeBatch when the input exceeds its limit.
var ErrTooLarge = errors.New("batch too large")

// DefaultMaxBatchBytes is the limit DecodeBatch applies when given none.
const DefaultMaxBatchBytes = 4 << 20

// ItemError reports one bad item of a batch. Its JSON form is what the
// ingest service lists in a 400 response.
type ItemError struct {
	// Index is the 0-based position of the item in the batch (array element
	// or non-blank NDJSON line).
	Index int `json:"index"`
	// Line is the 1-based line of an NDJSON item, 0 otherwise.
	Line   int    `json:"line,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e ItemError) Error() string {
	s := "item " + strconv.Itoa(e.Index)
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Reason
}

// DecodeBatch reads up to maxBytes (DefaultMaxBatchBytes if maxBytes <= 0)
// of r as one JSON object, a JSON array of objects, or NDJSON (one object a
// line), told apart by the first non-space byte and the lines. It returns the
// valid events in order and one ItemError per invalid item, so that a caller
// can refuse the whole batch and name every bad item (the ingest rule: all
// or nothing). err is for the batch as a whole: ErrTooLarge, a read error,
// or an empty or unparseable batch (wrapping ErrInvalid).
func DecodeBatch(r io.Reader, maxBytes int64) (events []Event, bad []ItemError, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBatchBytes
	}
	body, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read batch: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil, fmt.Errorf("%w: empty batch", ErrInvalid)
	}
	add := func(i, line int, b []byte) {
		e, err := Decode(b)
		if err == nil {
			events = append(events, e)
			return
		}
		bad = append(bad, itemError(i, line, err))
	}
	switch trimmed[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, nil, fmt.Errorf("%w: malformed JSON array: %v", ErrInvalid, err)
		}
		if len(items) == 0 {
			return nil, nil, fmt.Errorf("%w: empty batch", ErrInvalid)
		}
		for i, it := range items {
			add(i, 0, it)
		}
	case '{':
		if !isNDJSON(trimmed) {
			add(0, 0, trimmed)
			break
		}
		i, line := 0, 0
		for l := range bytes.SplitSeq(body, []byte("\n")) {
			line++
			if l = bytes.TrimSpace(l); len(l) > 0 {
				add(i, line, l)
				i++
			}
		}
	default:
		return nil, nil, fmt.Errorf("%w: a batch is a JSON object, an array of objects or NDJSON; got %q first", ErrInvalid, trimmed[0])
	}
	return events, bad, nil
}

// isNDJSON tells NDJSON from one object spread over lines: the body as a
// whole is not one JSON value, it has several non-blank lines, and either the
// first line is a complete object or every line looks like one (so that a
// broken first line still gets NDJSON treatment, item by item).
func isNDJSON(body []byte) bool {
	if json.Valid(body) {
		return false
	}
	lines, objectLike := 0, true
	var first []byte
	for l := range bytes.SplitSeq(body, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) == 0 {
			continue
		}
		if lines == 0 {
			first = l
		}
		lines++
		objectLike = objectLike && l[0] == '{' && l[len(l)-1] == '}'
	}
	return lines > 1 && (json.Valid(first) || objectLike)
}

// itemError turns a Decode error into the ItemError of item i.
func itemError(i, line int, err error) ItemError {
	var fe *FieldError
	if errors.As(err, &fe) {
		return ItemError{Index: i, Line: line, Field: fe.Field, Reason: fe.Reason}
	}
	return ItemError{Index: i, Line: line, Reason: trimInvalid(err)}
}

// trimInvalid drops the "invalid event: " prefix of a wrapped ErrInvalid,
// which an ItemError makes redundant.
func trimInvalid(err error) string {
	return string(bytes.TrimPrefix([]byte(err.Error()), []byte(ErrInvalid.Error()+": ")))
}

// MaxLineBytes bounds one NDJSON line for ReadNDJSON.
const MaxLineBytes = 1 << 20

// ReadNDJSON streams NDJSON from r (one event a line; blank lines and CRLF
// endings are fine) in memory bounded by MaxLineBytes, for inputs too big for
// DecodeBatch such as a file given to the publish command. For each item fn
// gets either the event or, for a bad line, an *ItemError (Index and Line set)
// and a zero event; an error from fn stops the read and is returned. A line
// longer than MaxLineBytes stops the read with an error wrapping ErrTooLarge.
func ReadNDJSON(r io.Reader, fn func(e Event, bad *ItemError) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	index, line := 0, 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if len(b) == 0 {
			continue
		}
		e, err := Decode(b)
		var ie *ItemError
		if err != nil {
			x := itemError(index, line, err)
			ie = &x
		}
		if err := fn(e, ie); err != nil {
			return err
		}
		index++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%w: line %d is longer than %d bytes", ErrTooLarge, line+1, MaxLineBytes)
		}
		return fmt.Errorf("read ndjson: %w", err)
	}
	return nil
}
