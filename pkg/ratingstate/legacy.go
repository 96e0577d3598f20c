package ratingstate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// legacyEntry is one entry of the trainer's format-1 JSON checkpoint (the
// fields of Event, so that it converts to one).
type legacyEntry struct {
	User      string  `json:"u"`
	Movie     string  `json:"m"`
	Value     float32 `json:"v"`
	TS        int64   `json:"t"`
	EventID   string  `json:"e"`
	Partition int32   `json:"p"`
	Offset    int64   `json:"o"`
}

// legacyFormat is the only JSON checkpoint format migrated.
const legacyFormat = 1

// ErrLegacy is wrapped by the errors of a legacy checkpoint Open cannot
// migrate; the file is left as it was.
var ErrLegacy = errors.New("legacy checkpoint not migrated")

// migrate reads the legacy JSON checkpoint, if there is one, writes it as
// base 1 and renames it out of the way. It returns nil, nil when there is
// no legacy file.
func (st *Store) migrate() (*Loaded, error) {
	path := st.opt.LegacyJSON
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate checkpoint: %w", err)
	}
	defer f.Close()
	s, offsets, savedAt, err := readLegacy(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("migrate checkpoint %s: %w: %w", path, ErrLegacy, err)
	}
	v := s.Export()
	_, err = writeBase(st.basePath(1), 1, v, 0, savedAt, offsets)
	v.Release()
	if err != nil {
		return nil, fmt.Errorf("migrate checkpoint %s: %w", path, err)
	}
	st.base = 1
	if err := st.createLog(1); err != nil {
		return nil, fmt.Errorf("migrate checkpoint %s: %w", path, err)
	}
	// The new checkpoint is durable; the old file goes out of the way, so
	// it is migrated once (rename it back to roll back to a trainer that
	// reads it: its offsets match its contents).
	done := path + ".migrated"
	if err := os.Rename(path, done); err != nil {
		return nil, fmt.Errorf("migrate checkpoint %s: %w", path, err)
	}
	st.log.Info("legacy JSON checkpoint migrated", "from", path, "renamed_to", done, "pairs", s.Len(),
		"users", s.NumUsers(), "movies", s.NumMovies(), "offsets", offsets)
	return &Loaded{State: s, Offsets: offsets, SavedAt: savedAt, Migrated: true}, nil
}

// readLegacy decodes a format-1 checkpoint entry by entry (the file is
// never held whole) into a state. Each user's position is the greatest
// Kafka position among its entries.
func readLegacy(r *bufio.Reader) (*State, map[int32]int64, int64, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, 0, err
	}
	s := New()
	var (
		format  int
		savedAt time.Time
		offsets map[int32]int64
		n       int
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, 0, err
		}
		key, _ := tok.(string)
		switch key {
		case "format":
			err = dec.Decode(&format)
		case "saved_at":
			err = dec.Decode(&savedAt)
		case "offsets":
			err = dec.Decode(&offsets)
		case "entries":
			var tok json.Token
			if tok, err = dec.Token(); err != nil || tok == nil { // null: no entries
				break
			}
			if tok != json.Delim('[') {
				err = fmt.Errorf("entries: expected an array, found %v", tok)
				break
			}
			for dec.More() && err == nil {
				var e legacyEntry
				if err = dec.Decode(&e); err != nil {
					break
				}
				if e.User == "" || e.Movie == "" || e.EventID == "" {
					err = fmt.Errorf("entry %d: user, movie and event id are required", n)
					break
				}
				if _, err = s.Update(Event(e)); err != nil {
					err = fmt.Errorf("entry %d: %w", n, err)
				}
				n++
			}
			if err == nil {
				err = expectDelim(dec, ']')
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, nil, 0, err
		}
	}
	if format != legacyFormat {
		return nil, nil, 0, fmt.Errorf("format %d, this reader migrates format %d", format, legacyFormat)
	}
	for p, o := range offsets {
		if p < 0 || o < 0 {
			return nil, nil, 0, fmt.Errorf("offsets[%d] = %d: must not be negative", p, o)
		}
	}
	if offsets == nil {
		offsets = map[int32]int64{}
	}
	var at int64
	if !savedAt.IsZero() {
		at = savedAt.UnixNano()
	}
	return s, offsets, at, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("expected %q, found %v", d, tok)
	}
	return nil
}
