package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, json string
		want       Event
	}{
		{"rating", `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":4.5,"ts":"2024-05-01T12:00:00Z","source":"app"}`,
			NewRating("e1", "u1", "m1", 4.5, ts, "app")},
		{"integer rating", `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":5,"ts":"2024-05-01T12:00:00Z"}`,
			NewRating("e1", "u1", "m1", 5, ts, "")},
		{"like", `{"event_id":"e1","user_id":"u1","movie_id":"m1","swipe":"like","ts":"2024-05-01T12:00:00Z"}`,
			NewSwipe("e1", "u1", "m1", Like, ts, "")},
		{"superlike", `{"event_id":"e1","user_id":"u1","movie_id":"m1","swipe":"superlike","ts":"2024-05-01T12:00:00Z"}`,
			NewSwipe("e1", "u1", "m1", Superlike, ts, "")},
		{"dislike", `{"event_id":"e1","user_id":"u1","movie_id":"m1","swipe":"dislike","ts":"2024-05-01T12:00:00Z"}`,
			NewSwipe("e1", "u1", "m1", Dislike, ts, "")},
		{"skip", `{"event_id":"e1","user_id":"u1","movie_id":"m1","swipe":"skip","ts":"2024-05-01T12:00:00Z"}`,
			NewSwipe("e1", "u1", "m1", Skip, ts, "")},
		{"unknown fields ignored", `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":1,"ts":"2024-05-01T12:00:00Z","device":{"os":"ios"},"extra":[1,2]}`,
			NewRating("e1", "u1", "m1", 1, ts, "")},
		{"offset and fraction", `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":0.5,"ts":"2024-05-01T14:00:00.000+02:00"}`,
			NewRating("e1", "u1", "m1", 0.5, ts, "")},
		{"numeric ids", `{"event_id":"e1","user_id":196,"movie_id":242,"rating":3,"ts":"2024-05-01T12:00:00Z"}`,
			NewRating("e1", "196", "242", 3, ts, "")},
		{"the epoch", `{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":3,"ts":"1970-01-01T00:00:00Z"}`,
			NewRating("e1", "u1", "m1", 3, time.Unix(0, 0), "")},
		{"surrounding space", " \n{\"event_id\":\"e1\",\"user_id\":\"u1\",\"movie_id\":\"m1\",\"rating\":3,\"ts\":\"2024-05-01T12:00:00Z\"}\n",
			NewRating("e1", "u1", "m1", 3, ts, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if !sameEvent(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func sameEvent(a, b Event) bool {
	if (a.Rating == nil) != (b.Rating == nil) || (a.Rating != nil && *a.Rating != *b.Rating) {
		return false
	}
	return a.EventID == b.EventID && a.UserID == b.UserID && a.MovieID == b.MovieID &&
		a.Swipe == b.Swipe && a.TS.Equal(b.TS) && a.Source == b.Source
}

// event builds a JSON event from the valid rating event by replacing or
// removing fields: set maps a field to its raw JSON, "" removes it.
func event(set map[string]string) string {
	fields := []struct{ k, v string }{
		{"event_id", `"e1"`}, {"user_id", `"u1"`}, {"movie_id", `"m1"`}, {"rating", `4`},
		{"swipe", ``}, {"ts", `"2024-05-01T12:00:00Z"`}, {"source", ``},
	}
	var parts []string
	for _, f := range fields {
		v := f.v
		if s, ok := set[f.k]; ok {
			v = s
		}
		if v != "" {
			parts = append(parts, `"`+f.k+`":`+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestDecodeErrors(t *testing.T) {
	long := `"` + strings.Repeat("x", MaxIDLen+1) + `"`
	tests := []struct {
		name, json, field, reason string
	}{
		{"event_id missing", event(map[string]string{"event_id": ""}), "event_id", "required"},
		{"event_id empty", event(map[string]string{"event_id": `""`}), "event_id", "required"},
		{"event_id too long", event(map[string]string{"event_id": long}), "event_id", "longer than 128 bytes"},
		{"event_id spaces", event(map[string]string{"event_id": `" e1"`}), "event_id", "has leading or trailing space"},
		{"event_id number", event(map[string]string{"event_id": `17`}), "event_id", "must be a string, got a number"},
		{"event_id null", event(map[string]string{"event_id": `null`}), "event_id", "must be a string, got null"},
		{"user_id missing", event(map[string]string{"user_id": ""}), "user_id", "required"},
		{"user_id too long", event(map[string]string{"user_id": long}), "user_id", "longer than 128 bytes"},
		{"user_id spaces", event(map[string]string{"user_id": `"u1\t"`}), "user_id", "has leading or trailing space"},
		{"user_id fraction", event(map[string]string{"user_id": `196.5`}), "user_id", "must be a string or an integer, got 196.5"},
		{"user_id negative", event(map[string]string{"user_id": `-3`}), "user_id", "must be a string or an integer, got -3"},
		{"movie_id missing", event(map[string]string{"movie_id": ""}), "movie_id", "required"},
		{"movie_id too long", event(map[string]string{"movie_id": long}), "movie_id", "longer than 128 bytes"},
		{"movie_id object", event(map[string]string{"movie_id": `{"id":1}`}), "movie_id", "must be a string or an integer, got an object"},
		{"rating and swipe missing", event(map[string]string{"rating": ""}), "rating", "one of rating or swipe is required"},
		{"rating too low", event(map[string]string{"rating": `0`}), "rating", "must be 0.5..5 in steps of 0.5, got 0"},
		{"rating too high", event(map[string]string{"rating": `5.5`}), "rating", "must be 0.5..5 in steps of 0.5, got 5.5"},
		{"rating negative", event(map[string]string{"rating": `-1`}), "rating", "must be 0.5..5 in steps of 0.5, got -1"},
		{"rating off step", event(map[string]string{"rating": `3.7`}), "rating", "must be 0.5..5 in steps of 0.5, got 3.7"},
		{"rating huge", event(map[string]string{"rating": `1e400`}), "rating", "1e400 is not a float64"},
		{"rating string", event(map[string]string{"rating": `"4"`}), "rating", "must be a number, got a string"},
		{"rating null", event(map[string]string{"rating": `null`}), "rating", "must be a number, got null"},
		{"rating bool", event(map[string]string{"rating": `true`}), "rating", "must be a number, got a boolean"},
		{"rating and swipe", event(map[string]string{"swipe": `"like"`}), "swipe", "an event has a rating or a swipe, not both"},
		{"swipe unknown", event(map[string]string{"rating": "", "swipe": `"love"`}), "swipe", `must be one of like, superlike, dislike, skip; got "love"`},
		{"swipe case", event(map[string]string{"rating": "", "swipe": `"Like"`}), "swipe", `must be one of like, superlike, dislike, skip; got "Like"`},
		{"swipe array", event(map[string]string{"rating": "", "swipe": `["like"]`}), "swipe", "must be a string, got an array"},
		{"ts missing", event(map[string]string{"ts": ""}), "ts", "required (RFC 3339 event time)"},
		{"ts not RFC 3339", event(map[string]string{"ts": `"2024-05-01 12:00:00"`}), "ts", `"2024-05-01 12:00:00" is not an RFC 3339 time (like 2024-05-01T12:00:00Z)`},
		{"ts without zone", event(map[string]string{"ts": `"2024-05-01T12:00:00"`}), "ts", `"2024-05-01T12:00:00" is not an RFC 3339 time (like 2024-05-01T12:00:00Z)`},
		{"ts unix number", event(map[string]string{"ts": `1714564800`}), "ts", "must be a string, got a number"},
		{"ts zero time", event(map[string]string{"ts": `"0001-01-01T00:00:00Z"`}), "ts", "0001-01-01T00:00:00Z is before 1970-01-01T00:00:00Z, the earliest event time"},
		{"ts before 1970", event(map[string]string{"ts": `"1969-12-31T23:59:59Z"`}), "ts", "1969-12-31T23:59:59Z is before 1970-01-01T00:00:00Z, the earliest event time"},
		{"source too long", event(map[string]string{"source": `"` + strings.Repeat("s", MaxSourceLen+1) + `"`}), "source", "longer than 64 bytes"},
		{"source number", event(map[string]string{"source": `1`}), "source", "must be a string, got a number"},
		{"array", `[1,2]`, "event", "must be a JSON object, got an array"},
		{"string", `"hello"`, "event", "must be a JSON object, got a string"},
		{"null", `null`, "event", "must be a JSON object, got null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.json))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Reason != tt.reason {
				t.Errorf("got %s: %s, want %s: %s", fe.Field, fe.Reason, tt.field, tt.reason)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("not errors.Is ErrInvalid")
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, in := range []string{``, `{`, `{"event_id":}`, `{"a":1}x`, `nul`} {
		_, err := Decode([]byte(in))
		var fe *FieldError
		if !errors.Is(err, ErrInvalid) || errors.As(err, &fe) || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("%q: got %v, want a malformed JSON error wrapping ErrInvalid", in, err)
		}
	}
}

func TestEncode(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.FixedZone("", 3600))
	for _, e := range []Event{
		NewRating("e1", "u1", "m1", 3.5, ts, "cli"),
		NewSwipe("e2", "u2", "m2", Dislike, ts, ""),
	} {
		b, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if !sameEvent(got, e) {
			t.Errorf("round trip of %s gave %+v", b, got)
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("%s: absent fields must be left out, not null", b)
		}
	}
	_, err := Encode(NewSwipe("e", "u", "m", "meh", ts, ""))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "swipe" || !strings.HasPrefix(err.Error(), "encode event: swipe: ") {
		t.Errorf("invalid event: got %v", err)
	}
}

func TestSignal(t *testing.T) {
	ts := time.Unix(1, 0)
	custom := Weights{Like: 3.5, Superlike: 4.5, Dislike: 0.5, Skip: 2}
	tests := []struct {
		name   string
		w      Weights
		e      Event
		value  float64
		signal bool
	}{
		{"rating is itself", DefaultWeights(), NewRating("e", "u", "m", 2.5, ts, ""), 2.5, true},
		{"superlike", DefaultWeights(), NewSwipe("e", "u", "m", Superlike, ts, ""), 5, true},
		{"like", DefaultWeights(), NewSwipe("e", "u", "m", Like, ts, ""), 4, true},
		{"dislike is explicit negative", DefaultWeights(), NewSwipe("e", "u", "m", Dislike, ts, ""), 1, true},
		{"skip ignored by default", DefaultWeights(), NewSwipe("e", "u", "m", Skip, ts, ""), 2.5, false},
		{"custom like", custom, NewSwipe("e", "u", "m", Like, ts, ""), 3.5, true},
		{"custom superlike", custom, NewSwipe("e", "u", "m", Superlike, ts, ""), 4.5, true},
		{"custom dislike", custom, NewSwipe("e", "u", "m", Dislike, ts, ""), 0.5, true},
		{"custom skip counts as weak negative", custom, NewSwipe("e", "u", "m", Skip, ts, ""), 2, true},
		{"custom weights leave ratings alone", custom, NewRating("e", "u", "m", 5, ts, ""), 5, true},
		{"unknown swipe", DefaultWeights(), NewSwipe("e", "u", "m", "meh", ts, ""), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := tt.w.Signal(&tt.e)
			if v != tt.value || ok != tt.signal {
				t.Errorf("got %v, %v; want %v, %v", v, ok, tt.value, tt.signal)
			}
		})
	}
}

func TestKind(t *testing.T) {
	ts := time.Unix(1, 0)
	r, s := NewRating("e", "u", "m", 1, ts, ""), NewSwipe("e", "u", "m", Superlike, ts, "")
	if r.Kind() != "rating" || s.Kind() != "superlike" {
		t.Errorf("kinds %q, %q", r.Kind(), s.Kind())
	}
}

func TestCheckClock(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ts   time.Time
		skew time.Duration
		want string // "" for accepted
	}{
		{"past", time.Date(1997, 12, 4, 15, 55, 49, 0, time.UTC), DefaultMaxSkew, ""},
		{"now", now, DefaultMaxSkew, ""},
		{"within skew", now.Add(9 * time.Minute), DefaultMaxSkew, ""},
		{"beyond skew", now.Add(11 * time.Minute), DefaultMaxSkew,
			"2026-11-01T12:11:00Z is more than 10m0s ahead of the receiving clock (2026-11-01T12:00:00Z)"},
		{"year 2262", time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC), DefaultMaxSkew,
			"2262-01-01T00:00:00Z is more than 10m0s ahead of the receiving clock (2026-11-01T12:00:00Z)"},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Hour,
			"9999-12-31T00:00:00Z is more than 1h0m0s ahead of the receiving clock (2026-11-01T12:00:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewRating("e1", "u1", "m1", 4, tt.ts, "")
			err := e.CheckClock(now, tt.skew)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "ts" || fe.Reason != tt.want {
				t.Fatalf("got %v, want ts: %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("not errors.Is ErrInvalid")
			}
		})
	}
}

func TestDLQReason(t *testing.T) {
	_, err := Decode([]byte(`{"event_id":"e1","user_id":"u1","movie_id":"m1","rating":9,"ts":"2024-05-01T12:00:00Z"}`))
	if label, kind := DLQReason(err); label != "invalid" || kind != "invalid:rating" {
		t.Errorf("bad rating: %s, %s", label, kind)
	}
	_, err = Decode([]byte(`{"event_id":`))
	if label, kind := DLQReason(err); label != "malformed" || kind != "malformed" {
		t.Errorf("broken JSON: %s, %s", label, kind)
	}
}
