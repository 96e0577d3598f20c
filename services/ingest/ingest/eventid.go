package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// missingID reports whether any bad item lacks its event_id entirely.
func missingID(bad []events.ItemError) bool {
	for _, b := range bad {
		if b.Field == "event_id" && b.Reason == "required" {
			return true
		}
	}
	return false
}

// fillEventIDs returns body with an event_id added to every item (array
// element, NDJSON line or the one object) that has no event_id key. The id
// is derived from the item's bytes, "auto-" and 24 hex digits of their
// SHA-256, so a client that retries the same bytes sends the same event,
// and two byte-identical items are one event. Lines and array positions are
// kept, so item indexes and NDJSON line numbers stay valid; anything that
// does not parse is left as it is for DecodeBatch to report.
func fillEventIDs(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return body
	}
	switch trimmed[0] {
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(trimmed, &items) != nil {
			return body
		}
		for i, it := range items {
			items[i] = withID(it)
		}
		out, err := json.Marshal(items)
		if err != nil {
			return body
		}
		return out
	case '{':
		if json.Valid(trimmed) {
			return withID(trimmed)
		}
		lines := bytes.Split(body, []byte("\n"))
		for i, l := range lines {
			if t := bytes.TrimSpace(l); len(t) > 0 {
				lines[i] = withID(t)
			}
		}
		return bytes.Join(lines, []byte("\n"))
	}
	return body
}

// withID adds the derived event_id to one JSON object that has none.
func withID(item []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(item, &fields) != nil {
		return item
	}
	if _, ok := fields["event_id"]; ok {
		return item
	}
	sum := sha256.Sum256(bytes.TrimSpace(item))
	id, _ := json.Marshal("auto-" + hex.EncodeToString(sum[:12]))
	fields["event_id"] = id
	out, err := json.Marshal(fields)
	if err != nil {
		return item
	}
	return out
}
