package events

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	good1 = `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":4,"ts":"2024-05-01T12:00:00Z"}`
	good2 = `{"event_id":"e2","user_id":"u1","movie_id":"m2","swipe":"like","ts":"2024-05-01T12:00:01Z"}`
	bad1  = `{"event_id":"e3","user_id":"u1","movie_id":"m3","rating":9,"ts":"2024-05-01T12:00:02Z"}`
	bad2  = `{"event_id":"e4","user_id":"u1","movie_id":"m4","swipe":"like","ts":"yesterday"}`
)

func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		name, body string
		ids        []string
		bad        []ItemError
	}{
		{"single object", good1, []string{"e1"}, nil},
		{"single object over lines", "{\n  \"event_id\": \"e1\",\n  \"user_id\": \"u1\",\n  \"movie_id\": \"m1\",\n  \"rating\": 4,\n  \"ts\": \"2024-05-01T12:00:00Z\"\n}\n", []string{"e1"}, nil},
		{"single bad object", bad1, nil, []ItemError{{Index: 0, Field: "rating", Reason: "must be 0.5..5 in steps of 0.5, got 9"}}},
		{"array", "[" + good1 + ",\n" + good2 + "]", []string{"e1", "e2"}, nil},
		{"array, partly bad", "[" + good1 + "," + bad1 + "," + good2 + "," + bad2 + `,"x"]`, []string{"e1", "e2"}, []ItemError{
			{Index: 1, Field: "rating", Reason: "must be 0.5..5 in steps of 0.5, got 9"},
			{Index: 3, Field: "ts", Reason: `"yesterday" is not an RFC 3339 time (like 2024-05-01T12:00:00Z)`},
			{Index: 4, Field: "event", Reason: "must be a JSON object, got a string"},
		}},
		{"ndjson", good1 + "\n" + good2 + "\n", []string{"e1", "e2"}, nil},
		{"ndjson crlf, blank lines, no final newline", good1 + "\r\n\r\n" + good2, []string{"e1", "e2"}, nil},
		{"ndjson, partly bad", good1 + "\n\n" + bad1 + "\n" + "{not json\n" + good2 + "\n" + bad2, []string{"e1", "e2"}, []ItemError{
			{Index: 1, Line: 3, Field: "rating", Reason: "must be 0.5..5 in steps of 0.5, got 9"},
			{Index: 2, Line: 4, Reason: "malformed JSON: invalid character 'n' looking for beginning of object key string"},
			{Index: 4, Line: 6, Field: "ts", Reason: `"yesterday" is not an RFC 3339 time (like 2024-05-01T12:00:00Z)`},
		}},
		{"ndjson, first line bad", `{"event_id":"e0",}` + "\n" + good1 + "\n" + good2, []string{"e1", "e2"}, []ItemError{
			{Index: 0, Line: 1, Reason: "malformed JSON: invalid character '}' looking for beginning of object key string"},
		}},
		{"two objects over lines is not ndjson", "{\n\"a\": 1\n}\n{\n\"b\": 2\n}", nil, []ItemError{
			{Index: 0, Reason: "malformed JSON: invalid character '{' after top-level value"},
		}},
		{"byte order mark", "\ufeff" + good1, []string{"e1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, bad, err := DecodeBatch(strings.NewReader(tt.body), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.EventID)
			}
			if !reflect.DeepEqual(ids, tt.ids) {
				t.Errorf("events %v, want %v", ids, tt.ids)
			}
			if !reflect.DeepEqual(bad, tt.bad) {
				t.Errorf("item errors\n%+v\nwant\n%+v", bad, tt.bad)
			}
		})
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	tests := []struct {
		name, body string
		max        int64
		is         error
		msg        string
	}{
		{"too large", "[" + good1 + "]", 20, ErrTooLarge, "batch too large: more than 20 bytes"},
		{"empty", "  \n", 100, ErrInvalid, "invalid event: empty batch"},
		{"empty array", "[ ]", 100, ErrInvalid, "invalid event: empty batch"},
		{"malformed array", "[" + good1 + ",", 1 << 20, ErrInvalid, "invalid event: malformed JSON array: unexpected end of JSON input"},
		{"not json", "user,movie,rating\n", 100, ErrInvalid, `invalid event: a batch is a JSON object, an array of objects or NDJSON; got 'u' first`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, bad, err := DecodeBatch(strings.NewReader(tt.body), tt.max)
			if !errors.Is(err, tt.is) || err.Error() != tt.msg {
				t.Errorf("got %v, want %q", err, tt.msg)
			}
			if evs != nil || bad != nil {
				t.Errorf("a batch error returns no items, got %d events, %d item errors", len(evs), len(bad))
			}
		})
	}
}

func TestDecodeBatchLimitInclusive(t *testing.T) {
	body := "[" + good1 + "]"
	evs, bad, err := DecodeBatch(strings.NewReader(body), int64(len(body)))
	if err != nil || len(evs) != 1 || len(bad) != 0 {
		t.Errorf("a body of exactly maxBytes: got %d events, %v, %v", len(evs), bad, err)
	}
}

func TestDecodeBatchDefaultLimit(t *testing.T) {
	big := "[" + strings.Repeat(good1+",", DefaultMaxBatchBytes/len(good1)) + good1 + "]"
	if _, _, err := DecodeBatch(strings.NewReader(big), 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("maxBytes 0 should apply DefaultMaxBatchBytes; got %v", err)
	}
}

func TestDecodeBatchReadError(t *testing.T) {
	boom := errors.New("connection reset")
	_, _, err := DecodeBatch(iotest.ErrReader(boom), 100)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "read batch: ") {
		t.Errorf("got %v", err)
	}
}

func TestItemErrorText(t *testing.T) {
	tests := []struct {
		e    ItemError
		want string
	}{
		{ItemError{Index: 2, Field: "rating", Reason: "bad"}, "item 2: rating: bad"},
		{ItemError{Index: 0, Line: 7, Field: "ts", Reason: "bad"}, "item 0 (line 7): ts: bad"},
		{ItemError{Index: 1, Reason: "malformed JSON"}, "item 1: malformed JSON"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestReadNDJSON(t *testing.T) {
	body := "\ufeff" + good1 + "\r\n\n" + bad1 + "\n" + good2 + "\n" + "[1]\n"
	var ids []string
	var bad []ItemError
	err := ReadNDJSON(strings.NewReader(body), func(e Event, ie *ItemError) error {
		if ie != nil {
			bad = append(bad, *ie)
			return nil
		}
		ids = append(ids, e.EventID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []string{"e1", "e2"}) {
		t.Errorf("events %v", ids)
	}
	want := []ItemError{
		{Index: 1, Line: 3, Field: "rating", Reason: "must be 0.5..5 in steps of 0.5, got 9"},
		{Index: 3, Line: 5, Field: "event", Reason: "must be a JSON object, got an array"},
	}
	if !reflect.DeepEqual(bad, want) {
		t.Errorf("item errors %+v, want %+v", bad, want)
	}
}

func TestReadNDJSONStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ReadNDJSON(strings.NewReader(good1+"\n"+good2+"\n"), func(Event, *ItemError) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("got %v after %d items", err, n)
	}
	long := good1 + "\n" + strings.Repeat(" ", MaxLineBytes+1) + "x\n"
	err = ReadNDJSON(strings.NewReader(long), func(Event, *ItemError) error { return nil })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "line 2 is longer than") {
		t.Errorf("long line: got %v", err)
	}
	err = ReadNDJSON(iotest.ErrReader(stop), func(Event, *ItemError) error { return nil })
	if !errors.Is(err, stop) || !strings.HasPrefix(err.Error(), "read ndjson: ") {
		t.Errorf("read error: got %v", err)
	}
}
