package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
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

// checkpointer writes checkpoints off the fold loop, one at a time, and
// commits their offsets once they are on disk. A failed write is retried
// every retry interval even when no new events arrive.
type checkpointer struct {
	path  string
	retry time.Duration
	log   *slog.Logger

	busy    bool      // a write is in flight (loop-owned)
	failed  bool      // the last write failed: retry at retryAt (loop-owned)
	retryAt time.Time // loop-owned
	done    chan checkpointDone
	wg      sync.WaitGroup
}

func newCheckpointer(path string, retry time.Duration, log *slog.Logger) *checkpointer {
	return &checkpointer{path: path, retry: retry, log: log, done: make(chan checkpointDone, 1)}
}

// load reads the checkpoint, first removing the temporary files of writes
// a crash interrupted.
func (c *checkpointer) load() (Checkpoint, error) {
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(c.path), filepath.Base(c.path)+".tmp-*"))
	for _, f := range leftovers {
		if err := os.Remove(f); err == nil {
			c.log.Info("removed an interrupted checkpoint write", "file", f)
		}
	}
	return LoadCheckpoint(c.path)
}

// checkpointJob is what one checkpoint writes and then commits, copied by
// the loop so the file is written off it.
type checkpointJob struct {
	cp   Checkpoint
	msgs []kafkabus.Message // the last message per partition, to commit
}

// checkpointDone is a written checkpoint's outcome; uncommitted holds the
// messages whose commit failed, for the next checkpoint to retry.
type checkpointDone struct {
	err, commitErr error
	uncommitted    []kafkabus.Message
}

// takeCheckpoint copies the state with the offsets it covers (unsorted:
// the writer sorts) and the messages to commit after the write.
func (l *foldLoop) takeCheckpoint() checkpointJob {
	job := checkpointJob{cp: Checkpoint{SavedAt: l.s.now().UTC(), Offsets: make(map[int32]int64, len(l.offsets)),
		Entries: make([]Entry, 0, l.state.Len())}}
	l.state.Each(func(e *Entry) { job.cp.Entries = append(job.cp.Entries, *e) })
	for p, o := range l.offsets {
		job.cp.Offsets[p] = o
	}
	for _, m := range l.lastMsg {
		job.msgs = append(job.msgs, m)
	}
	clear(l.lastMsg)
	l.sinceCP = 0
	return job
}

// writeCheckpoint saves job's checkpoint, then commits its offsets: a
// commit never runs ahead of a checkpoint on disk.
func writeCheckpoint(ctx context.Context, path string, job checkpointJob, c committer) checkpointDone {
	sortEntries(job.cp.Entries)
	if err := SaveCheckpoint(path, job.cp); err != nil {
		return checkpointDone{err: err, uncommitted: job.msgs}
	}
	if len(job.msgs) == 0 || c == nil {
		return checkpointDone{}
	}
	if err := c.Commit(ctx, job.msgs...); err != nil {
		// The checkpoint holds these offsets; the commit only trails it.
		return checkpointDone{commitErr: err, uncommitted: job.msgs}
	}
	return checkpointDone{}
}

// checkpoint starts a background write when there is something new (or a
// failed write to retry, once its retry time came); one runs at a time,
// and a checkpoint due meanwhile waits for the next trigger.
func (l *foldLoop) checkpoint(ctx context.Context, d loopDeps) {
	c := d.checkpoints
	retry := c.failed && !l.s.now().Before(c.retryAt)
	if c.busy || (l.sinceCP == 0 && !retry) {
		return
	}
	job := l.takeCheckpoint()
	c.busy = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.done <- writeCheckpoint(ctx, c.path, job, d.commit)
	}()
}

// checkpointWritten takes a background checkpoint's outcome. After a
// failed write the next tick retries, new events or not.
func (l *foldLoop) checkpointWritten(ctx context.Context, d loopDeps, done checkpointDone) {
	c := d.checkpoints
	c.busy = false
	for _, m := range done.uncommitted {
		if _, newer := l.lastMsg[int32(m.Partition)]; !newer {
			l.lastMsg[int32(m.Partition)] = m
		}
	}
	c.failed = done.err != nil
	switch {
	case done.err != nil && ctx.Err() == nil:
		c.retryAt = l.s.now().Add(c.retry)
		l.s.metrics.checkpoints.WithLabelValues("failed").Inc()
		l.s.log.Error("checkpoint failed; retrying", "in", c.retry, "err", done.err)
	case done.err == nil:
		l.s.metrics.checkpoints.WithLabelValues("written").Inc()
		if done.commitErr != nil && ctx.Err() == nil {
			l.s.log.Warn("checkpoint saved, but the offset commit failed; the next one retries", "err", done.commitErr)
		}
	}
}

// finalCheckpoint waits for a checkpoint in flight, then writes one that
// covers everything the loop handled.
func (l *foldLoop) finalCheckpoint(ctx context.Context, d loopDeps) error {
	c := d.checkpoints
	c.wg.Wait()
	if c.busy {
		l.checkpointWritten(ctx, d, <-c.done)
	}
	done := writeCheckpoint(ctx, c.path, l.takeCheckpoint(), d.commit)
	return done.err
}
