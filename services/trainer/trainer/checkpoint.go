package trainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// checkpointFormat is bumped when the file's shape changes incompatibly.
const checkpointFormat = 1

// Checkpoint is the trainer's durable state: the rating state together with
// the Kafka offsets it covers. Offsets maps each partition of
// swipeflix.ratings to the next offset not yet in Entries.
type Checkpoint struct {
	Format  int             `json:"format"`
	SavedAt time.Time       `json:"saved_at"`
	Offsets map[int32]int64 `json:"offsets"`
	Entries []Entry         `json:"entries"`
}

// ErrNoCheckpoint is returned by LoadCheckpoint when none was written yet.
var ErrNoCheckpoint = errors.New("no checkpoint")

// SaveCheckpoint writes cp to path atomically: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced, so a
// crash at any point leaves either the old checkpoint or the new one.
func SaveCheckpoint(path string, cp Checkpoint) error {
	cp.Format = checkpointFormat
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) //nolint:errcheck // gone after a successful rename
	w := bufio.NewWriterSize(f, 1<<20)
	if err := json.NewEncoder(w).Encode(cp); err != nil {
		f.Close()
		return fmt.Errorf("save checkpoint: encode: %w", err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("save checkpoint: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save checkpoint: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save checkpoint: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("save checkpoint: fsync %s: %w", dir, err)
		}
	}
	return nil
}

// LoadCheckpoint reads the checkpoint at path. It returns ErrNoCheckpoint
// when the file does not exist, and an error naming the file and the bad
// entry when it does not parse.
func LoadCheckpoint(path string) (Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, ErrNoCheckpoint
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	var cp Checkpoint
	if err := json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&cp); err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	if cp.Format != checkpointFormat {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: format %d, this trainer reads %d", path, cp.Format, checkpointFormat)
	}
	for p, o := range cp.Offsets {
		if p < 0 || o < 0 {
			return Checkpoint{}, fmt.Errorf("load checkpoint %s: offsets[%d] = %d: must not be negative", path, p, o)
		}
	}
	for i, e := range cp.Entries {
		if e.User == "" || e.Movie == "" || e.EventID == "" {
			return Checkpoint{}, fmt.Errorf("load checkpoint %s: entry %d: user, movie and event id are required", path, i)
		}
		if e.Value < 0.5 || e.Value > 5 {
			return Checkpoint{}, fmt.Errorf("load checkpoint %s: entry %d: value %v outside 0.5..5", path, i, e.Value)
		}
	}
	return cp, nil
}

// Restore builds a state from a checkpoint's entries.
func Restore(entries []Entry) *State {
	s := NewState()
	for _, e := range entries {
		s.Update(e)
	}
	return s
}
