package events

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode: Decode never panics; what it accepts is valid and survives
// Encode and Decode again unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{good1, good2, bad1, bad2, `{}`, `[]`, `null`, `{"rating":1e999}`,
		`{"event_id":"e","user_id":"u","movie_id":"m","swipe":"skip","ts":"2024-02-29T23:59:60Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid event: %v", err)
		}
		out, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode of a decoded event: %v", err)
		}
		again, err := Decode(out)
		if err != nil || !sameEvent(e, again) {
			t.Fatalf("round trip %s -> %s: %+v, %v", b, out, again, err)
		}
	})
}

// FuzzDecodeBatch: DecodeBatch never panics, and every item is either an
// event or an item error, with increasing indexes.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{good1, "[" + good1 + "," + bad1 + "]", good1 + "\n" + bad2 + "\n" + good2, "", "[", "{\n", "\n\n{}\n{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, bad, err := DecodeBatch(bytes.NewReader(b), 1<<16)
		if err != nil {
			if evs != nil || bad != nil {
				t.Fatal("items returned with a batch error")
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("batch error %v wraps neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		if len(evs)+len(bad) == 0 {
			t.Fatal("no events, no item errors and no error")
		}
		for i := 1; i < len(bad); i++ {
			if bad[i].Index <= bad[i-1].Index {
				t.Fatalf("item error indexes not increasing: %+v", bad)
			}
		}
		for _, e := range evs {
			if err := e.Validate(); err != nil {
				t.Fatalf("an accepted event is invalid: %v", err)
			}
		}
	})
}
