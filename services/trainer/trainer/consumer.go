package trainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// consumer reads swipeflix.ratings as a member of the trainer's consumer
// group, but from the offsets the checkpoint says, not from the group's
// committed ones: when a generation assigns it a partition it seeks there
// explicitly. The checkpoint is the truth; commits only trail it (for lag
// and for other tools), so a lost commit or a lost checkpoint never makes
// the trainer skip events. pkg/kafkabus's GroupReader has no seek, hence
// this thin adapter over kafka-go's ConsumerGroup.
type consumer struct {
	brokers []string
	group   string
	topic   string
	log     *slog.Logger

	mu  sync.Mutex
	pos map[int]int64 // next offset to read per partition
	gen *kafka.Generation
}

// newConsumer starts reading each partition at from[p], or at the start of
// the partition when from has none.
func newConsumer(brokers []string, group, topic string, from map[int32]int64, log *slog.Logger) *consumer {
	c := &consumer{brokers: brokers, group: group, topic: topic, log: log, pos: map[int]int64{}}
	for p, o := range from {
		c.pos[int(p)] = o
	}
	return c
}

// Run joins the group and sends every message of the assigned partitions to
// out, in offset order per partition, until ctx ends. It rejoins after each
// rebalance, resuming where it had read to.
func (c *consumer) Run(ctx context.Context, out chan<- kafkabus.Message) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: c.group, Brokers: c.brokers, Topics: []string{c.topic},
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 500 * time.Millisecond, Timeout: 5 * time.Second, StartOffset: kafka.FirstOffset,
	})
	if err != nil {
		return fmt.Errorf("join consumer group %s: %w", c.group, err)
	}
	defer cg.Close() //nolint:errcheck // leaving the group is best effort
	for {
		gen, err := cg.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			return nil
		case err != nil:
			c.log.Warn("consumer group generation", "group", c.group, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		c.mu.Lock()
		c.gen = gen
		c.mu.Unlock()
		for _, a := range gen.Assignments[c.topic] {
			partition := a.ID
			gen.Start(func(genCtx context.Context) { c.read(ctx, genCtx, partition, out) })
		}
	}
}

// read fetches one partition from the consumer's position until the run or
// the generation ends.
func (c *consumer) read(runCtx, genCtx context.Context, partition int, out chan<- kafkabus.Message) {
	ctx, cancel := context.WithCancel(runCtx)
	defer cancel()
	stop := context.AfterFunc(genCtx, cancel)
	defer stop()
	c.mu.Lock()
	offset, ok := c.pos[partition]
	c.mu.Unlock()
	if !ok {
		offset = kafka.FirstOffset
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.brokers, Topic: c.topic, Partition: partition,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
		ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: 500 * time.Millisecond})
	defer r.Close() //nolint:errcheck // nothing to flush on a reader
	if err := r.SetOffset(offset); err != nil {
		c.log.Error("seek", "partition", partition, "offset", offset, "err", err)
		return
	}
	c.log.Info("reading partition", "partition", partition, "from", offset)
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("fetch", "partition", partition, "err", err)
			}
			return
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
		c.mu.Lock()
		c.pos[partition] = m.Offset + 1
		c.mu.Unlock()
	}
}

// Commit commits, per partition among msgs, the offset after the highest
// message, in the current generation.
func (c *consumer) Commit(_ context.Context, msgs ...kafkabus.Message) error {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	if gen == nil || len(msgs) == 0 {
		return nil
	}
	offsets := map[int]int64{}
	for _, m := range msgs {
		offsets[m.Partition] = max(offsets[m.Partition], m.Offset+1)
	}
	// CommitOffsets is bounded by the group's Timeout, not by ctx.
	if err := gen.CommitOffsets(map[string]map[int]int64{c.topic: offsets}); err != nil {
		return fmt.Errorf("commit %d offsets of %s: %w", len(offsets), c.group, err)
	}
	return nil
}
