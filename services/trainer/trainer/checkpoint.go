package trainer

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
)

// checkpointer writes the rating state's changes to the checkpoint store
// (package ratingstate: a base plus appended, checksummed segments,
// compacted in the background) off the fold loop, one write at a time, and
// commits the Kafka offsets a write covers once it is on disk. A failed
// write keeps its changes in the store and is retried every retry
// interval, new events or not.
type checkpointer struct {
	dir, legacy string
	retry       time.Duration
	log         *slog.Logger
	store       *ratingstate.Store

	busy    bool      // a write is in flight (loop-owned)
	failed  bool      // the last write failed: retry at retryAt (loop-owned)
	retryAt time.Time // loop-owned
	done    chan checkpointDone
	wg      sync.WaitGroup

	mu      sync.Mutex
	covered map[int32]int64 // the offsets the last write made durable
}

func newCheckpointer(cfg Config, log *slog.Logger) *checkpointer {
	return &checkpointer{dir: cfg.stateDir(), legacy: cfg.checkpointPath(), retry: cfg.CheckpointRetry, log: log,
		done: make(chan checkpointDone, 1)}
}

// open loads the checkpoint (migrating a JSON checkpoint of an older
// trainer once; ratingstate removes interrupted writes' leftovers).
func (c *checkpointer) open() (*ratingstate.Loaded, error) {
	st, ld, err := ratingstate.Open(c.dir, ratingstate.Options{Logger: c.log, LegacyJSON: c.legacy})
	if err != nil {
		return nil, err
	}
	c.store = st
	c.setCovered(ld.Offsets)
	return ld, nil
}

func (c *checkpointer) setCovered(offsets map[int32]int64) {
	c.mu.Lock()
	c.covered = maps.Clone(offsets)
	c.mu.Unlock()
}

// Covered is how many messages of each partition the checkpoint on disk
// covers.
func (c *checkpointer) Covered() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.covered)
}

// checkpointJob is what one checkpoint writes and then commits, taken by
// the loop so the file work runs off it.
type checkpointJob struct {
	delta   *ratingstate.Delta
	offsets map[int32]int64
	msgs    []kafkabus.Message // the last message per partition, to commit
}

// checkpointDone is a written checkpoint's outcome; uncommitted holds the
// messages whose commit failed or did not happen, for the next checkpoint.
type checkpointDone struct {
	err, commitErr error
	uncommitted    []kafkabus.Message
}

// takeCheckpoint takes the state's changes since the last one with the
// offsets they cover, and the messages to commit after the write.
func (l *foldLoop) takeCheckpoint() (checkpointJob, error) {
	d, err := l.state.TakeDelta(l.offsets, l.s.now().UnixNano())
	if err != nil {
		return checkpointJob{}, err
	}
	job := checkpointJob{delta: d, offsets: maps.Clone(l.offsets)}
	for _, m := range l.lastMsg {
		job.msgs = append(job.msgs, m)
	}
	clear(l.lastMsg)
	l.sinceCP = 0
	return job, nil
}

// write appends job's changes, then commits its offsets: a commit never
// runs ahead of a checkpoint on disk.
func (c *checkpointer) write(ctx context.Context, job checkpointJob, commit committer) checkpointDone {
	if err := c.store.Append(ctx, job.delta); err != nil {
		return checkpointDone{err: err, uncommitted: job.msgs}
	}
	c.setCovered(job.offsets)
	if len(job.msgs) == 0 || commit == nil {
		return checkpointDone{}
	}
	if err := commit.Commit(ctx, job.msgs...); err != nil {
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
	job, err := l.takeCheckpoint()
	if err != nil {
		l.s.log.Error("take checkpoint", "err", err)
		return
	}
	c.busy = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.done <- c.write(ctx, job, d.commit)
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

// finalCheckpoint waits for a checkpoint in flight, writes one that covers
// everything the loop handled, and closes the store.
func (l *foldLoop) finalCheckpoint(ctx context.Context, d loopDeps) error {
	c := d.checkpoints
	c.wg.Wait()
	if c.busy {
		l.checkpointWritten(ctx, d, <-c.done)
	}
	job, err := l.takeCheckpoint()
	if err == nil {
		err = c.write(ctx, job, d.commit).err
	}
	if cerr := c.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// stateDir is the checkpoint store's directory; checkpointPath the JSON
// checkpoint of trainers before it, migrated once.
func (c Config) stateDir() string { return filepath.Join(c.DataDir, "trainer", "state") }
