package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// OffsetRange is the span of offsets a partition holds: First is the
// oldest record still kept, End the next offset to be written.
type OffsetRange struct {
	First, End int64
}

// Bounds returns the offset range of every partition of topic.
func Bounds(ctx context.Context, brokers []string, topic string) (map[int32]OffsetRange, error) {
	b, err := bounds(ctx, newClient(brokers), topic)
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	return b, nil
}

// EndOffsets returns the next offset of every partition of topic: a model
// whose manifest offsets reach them covers every message published so far.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	b, err := bounds(ctx, newClient(brokers), topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	end := make(map[int32]int64, len(b))
	for p, r := range b {
		end[p] = r.End
	}
	return end, nil
}

func newClient(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
}

// bounds asks for the partitions of topic and their offset ranges.
func bounds(ctx context.Context, cl *kafka.Client, topic string) (map[int32]OffsetRange, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	// kafka-go fills FirstOffset and LastOffset only for the timestamps
	// asked for, so ask for both.
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata: %w", t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil, errors.New("topic has no partitions")
	}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[int32]OffsetRange, len(reqs)/2)
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of partition %d: %w", po.Partition, po.Error)
		}
		out[int32(po.Partition)] = OffsetRange{First: po.FirstOffset, End: po.LastOffset}
	}
	return out, nil
}

// ErrLogEndsEarly is returned by ReadRange when a record its range says
// exists does not arrive.
var ErrLogEndsEarly = errors.New("log ends early")

// ReadRange calls fn with each record of one partition of topic with from
// <= offset < to, in offset order, outside any consumer group. A range
// within the partition's bounds can still hold offsets with no record
// (transaction markers): when none arrives for idle (0: 10 s) it stops with
// ErrLogEndsEarly.
func ReadRange(ctx context.Context, brokers []string, topic string, partition int32, from, to int64, idle time.Duration,
	fn func(offset int64, value []byte) error) error {
	if from >= to {
		return nil
	}
	if idle <= 0 {
		idle = 10 * time.Second
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: int(partition),
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: time.Second})
	defer r.Close() //nolint:errcheck // nothing to flush on a reader
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("read %s/%d from %d: %w", topic, partition, from, err)
	}
	for next := from; next < to; {
		fctx, cancel := context.WithTimeout(ctx, idle)
		m, err := r.FetchMessage(fctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("read %s/%d: %w: no record at offset %d within %s (the range ends at %d)",
				topic, partition, ErrLogEndsEarly, next, idle, to)
		case err != nil:
			return fmt.Errorf("read %s/%d at %d: %w", topic, partition, next, err)
		}
		if m.Offset >= to {
			return nil
		}
		if err := fn(m.Offset, m.Value); err != nil {
			return err
		}
		next = m.Offset + 1
	}
	return nil
}
