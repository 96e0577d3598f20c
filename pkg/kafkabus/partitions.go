package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// PartitionReaderConfig configures a PartitionReader.
type PartitionReaderConfig struct {
	Brokers []string
	Topic   string
	// Group is the consumer group whose committed offsets Commit writes
	// (for lag tools); the reader never joins it.
	Group string
	// From maps a partition to the offset to start at; a partition it does
	// not name starts at its first offset.
	From map[int]int64
	// MaxWait bounds how long a fetch waits for new records (default 1s).
	// It is also the time the broker has to answer a fetch (kafka-go's
	// deadline for the answer): a fetch that stalls, failing at one offset
	// again and again, is retried with twice the wait and half the bytes.
	// With MinBytes 1 a fetch returns as soon as a record arrives, so a
	// long wait costs no freshness.
	MaxWait time.Duration
	// MaxBytes bounds one fetch's answer (default 10 MiB).
	MaxBytes int
	// Rediscover is how often the topic's partitions are looked up again,
	// so that partitions added later are read too (default 30s).
	Rediscover time.Duration
	Logger     *slog.Logger
}

// PartitionReader reads every partition of one topic, each from the
// offset its caller's checkpoint says, without consumer-group membership.
// A consumer that must see every partition (the trainer's rating state
// needs all of them) gains nothing from group assignment, and membership
// costs a restart the dead member's session timeout; reading partitions
// directly lets a restarted process resume at once. Who may read is
// decided elsewhere (a lease). Commit writes the group's committed offsets
// with simple commits, so lag tools keep working; they only trail the
// caller's checkpoint.
type PartitionReader struct {
	cfg PartitionReaderConfig
	cl  *kafka.Client

	mu   sync.Mutex
	pos  map[int]int64 // next offset to read
	high map[int]int64 // high watermark seen with the last fetch
}

// NewPartitionReader returns a reader; Run starts it.
func NewPartitionReader(cfg PartitionReaderConfig) *PartitionReader {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 10 << 20
	}
	if cfg.Rediscover <= 0 {
		cfg.Rediscover = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &PartitionReader{cfg: cfg, pos: map[int]int64{}, high: map[int]int64{},
		cl: newClient(cfg.Brokers)}
	for p, o := range cfg.From {
		r.pos[p] = o
	}
	return r
}

// Run sends every record of every partition to out, in offset order per
// partition, until ctx ends (nil). Partitions are looked up at start and
// every Rediscover; a partition whose fetches fail is retried.
func (r *PartitionReader) Run(ctx context.Context, out chan<- Message) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	started := map[int]bool{}
	t := time.NewTicker(r.cfg.Rediscover)
	defer t.Stop()
	for {
		parts, err := r.partitions(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.cfg.Logger.Warn("look up partitions", "topic", r.cfg.Topic, "err", err)
		}
		for _, p := range parts {
			if started[p] {
				continue
			}
			started[p] = true
			wg.Go(func() { r.readPartition(ctx, p, out) })
		}
		wait := r.cfg.Rediscover
		if len(started) == 0 {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (r *PartitionReader) partitions(ctx context.Context) ([]int, error) {
	md, err := r.cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{r.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", r.cfg.Topic, err)
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != r.cfg.Topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", r.cfg.Topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	sort.Ints(parts)
	return parts, nil
}

// fetchLimits are one partition's fetch settings.
type fetchLimits struct {
	wait  time.Duration
	bytes int
}

// Stall handling: a fetch that fails stallErrors times in a row without a
// record in between has stalled, and the reader reopens with backedOff
// limits. (A broker that needs longer than the wait to answer, a large
// first fetch on a loaded machine, fails the same way at every retry.)
const (
	stallErrors  = 5
	maxFetchWait = 30 * time.Second
	minFetchSize = 1 << 20
)

var errStalled = errors.New("fetches stalled")

// backedOff doubles the wait and halves the bytes, within bounds.
func (f fetchLimits) backedOff() fetchLimits {
	return fetchLimits{wait: min(2*f.wait, maxFetchWait), bytes: max(f.bytes/2, minFetchSize)}
}

// readPartition reads one partition from its position until ctx ends,
// reopening the reader after a failure and backing off after a stall.
func (r *PartitionReader) readPartition(ctx context.Context, partition int, out chan<- Message) {
	limits := fetchLimits{wait: r.cfg.MaxWait, bytes: r.cfg.MaxBytes}
	for ctx.Err() == nil {
		err := r.readFrom(ctx, partition, limits, out)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStalled) {
			limits = limits.backedOff()
			r.cfg.Logger.Warn("partition fetches stalled; reopening with a longer wait and smaller fetches",
				"topic", r.cfg.Topic, "partition", partition, "max_wait", limits.wait, "max_bytes", limits.bytes)
			continue
		}
		r.cfg.Logger.Warn("read partition; retrying", "topic", r.cfg.Topic, "partition", partition, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *PartitionReader) readFrom(ctx context.Context, partition int, limits fetchLimits, out chan<- Message) error {
	r.mu.Lock()
	offset, ok := r.pos[partition]
	r.mu.Unlock()
	if !ok {
		offset = kafka.FirstOffset
	}
	// kafka-go retries failed fetches itself and reports them only to its
	// logger: count them here, the first of a run at warn level.
	var failures atomic.Int64
	logFailure := func(format string, args ...any) {
		level := slog.LevelDebug
		if failures.Add(1) == 1 {
			level = slog.LevelWarn
		}
		r.cfg.Logger.Log(ctx, level, "kafka reader: "+fmt.Sprintf(format, args...), "topic", r.cfg.Topic, "partition", partition)
	}
	kr := kafka.NewReader(kafka.ReaderConfig{Brokers: r.cfg.Brokers, Topic: r.cfg.Topic, Partition: partition,
		MinBytes: 1, MaxBytes: limits.bytes, MaxWait: limits.wait,
		ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: 500 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(logFailure)})
	defer kr.Close() //nolint:errcheck // nothing to flush on a reader
	if err := kr.SetOffset(offset); err != nil {
		return fmt.Errorf("seek to %d: %w", offset, err)
	}
	r.cfg.Logger.Info("reading partition", "topic", r.cfg.Topic, "partition", partition, "from", offset,
		"max_wait", limits.wait, "max_bytes", limits.bytes)

	fctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		t := time.NewTicker(limits.wait)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
				if failures.Load() >= stallErrors {
					stop(errStalled)
					return
				}
			}
		}
	}()
	for {
		km, err := kr.FetchMessage(fctx)
		if err != nil {
			if cause := context.Cause(fctx); ctx.Err() == nil && errors.Is(cause, errStalled) {
				return fmt.Errorf("partition %d at offset %d: %w", partition, offset, errStalled)
			}
			return fmt.Errorf("fetch: %w", err)
		}
		failures.Store(0)
		select {
		case out <- fromKafka(km):
		case <-ctx.Done():
			return ctx.Err()
		}
		offset = km.Offset + 1
		r.mu.Lock()
		r.pos[partition] = offset
		r.high[partition] = km.HighWaterMark
		r.mu.Unlock()
	}
}

// Lag returns, per partition read so far, how many records follow the
// last one handed out (as of its fetch).
func (r *PartitionReader) Lag() map[int]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int]int64, len(r.high))
	for p, h := range r.high {
		out[p] = max(0, h-r.pos[p])
	}
	return out
}

// Commit writes, for each partition among msgs, the offset after the
// highest message as the group's committed offset (a simple commit: the
// reader is no member). It is bounded by the client's timeout.
func (r *PartitionReader) Commit(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 || r.cfg.Group == "" {
		return nil
	}
	offsets := map[int]int64{}
	for _, m := range msgs {
		offsets[m.Partition] = max(offsets[m.Partition], m.Offset+1)
	}
	return r.CommitOffsets(ctx, offsets)
}

// CommitOffsets writes offsets (partition -> next offset to read) as the
// group's committed offsets, e.g. a checkpoint's at start: a partition with
// nothing new to read would otherwise keep a stale commit.
func (r *PartitionReader) CommitOffsets(ctx context.Context, offsets map[int]int64) error {
	if len(offsets) == 0 || r.cfg.Group == "" {
		return nil
	}
	commits := make([]kafka.OffsetCommit, 0, len(offsets))
	for p, o := range offsets {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: o})
	}
	resp, err := r.cl.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: r.cfg.Group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{r.cfg.Topic: commits}})
	if err != nil {
		return fmt.Errorf("commit %d offsets of %s: %w", len(offsets), r.cfg.Group, err)
	}
	var errs []error
	for _, pc := range resp.Topics[r.cfg.Topic] {
		if pc.Error != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", pc.Partition, pc.Error))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commit offsets of %s: %w", r.cfg.Group, err)
	}
	return nil
}
