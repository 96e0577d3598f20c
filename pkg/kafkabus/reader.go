package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupReader consumes one topic as a member of a consumer group. Offsets
// are committed only by Commit, synchronously, so a consumer commits what it
// has durably processed and nothing else.
type GroupReader struct {
	r *kafka.Reader
}

// GroupOption adjusts a GroupReader's kafka-go configuration.
type GroupOption func(*kafka.ReaderConfig)

// WithStartOffset sets where a group with no committed offset starts:
// kafka.FirstOffset (the default, the whole log) or kafka.LastOffset.
func WithStartOffset(offset int64) GroupOption {
	return func(c *kafka.ReaderConfig) { c.StartOffset = offset }
}

// WithMaxWait bounds how long a fetch waits for new records (default 1s).
// A fetch returns as soon as a record arrives (MinBytes 1), so a longer wait
// costs no freshness; it is also the time the broker has to answer, and a
// broker slower than that fails every fetch.
func WithMaxWait(d time.Duration) GroupOption {
	return func(c *kafka.ReaderConfig) { c.MaxWait = d }
}

// NewGroupReader returns a reader of topic in consumer group group. It joins
// the group on the first Fetch.
func NewGroupReader(brokers []string, group, topic string, opts ...GroupOption) *GroupReader {
	cfg := kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		// 0: CommitMessages commits synchronously, nothing is committed
		// behind the caller's back.
		CommitInterval:    0,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           time.Second,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &GroupReader{r: kafka.NewReader(cfg)}
}

// ErrClosed is returned by Fetch after Close.
var ErrClosed = errors.New("group reader closed")

// Fetch blocks until the next message, ctx ends or the reader is closed.
func (g *GroupReader) Fetch(ctx context.Context) (Message, error) {
	m, err := g.r.FetchMessage(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Message{}, ErrClosed
		}
		return Message{}, fmt.Errorf("fetch from %s: %w", g.r.Config().Topic, err)
	}
	return fromKafka(m), nil
}

// Commit commits, for each partition among msgs, the offset after the
// highest message, and returns once the coordinator stored it.
func (g *GroupReader) Commit(ctx context.Context, msgs ...Message) error {
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	}
	if err := g.r.CommitMessages(ctx, kms...); err != nil {
		return fmt.Errorf("commit %d offsets: %w", len(msgs), err)
	}
	return nil
}

// Close leaves the group and closes the connections; a pending Fetch
// returns ErrClosed.
func (g *GroupReader) Close() error {
	if err := g.r.Close(); err != nil {
		return fmt.Errorf("close group reader: %w", err)
	}
	return nil
}
