package driftsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Log reads the ratings topic by partition and offset, outside any
// consumer group: the service (re)derives its reference from it, at start
// and whenever the serving model covers more of the log.
type Log interface {
	// Bounds returns, for every partition, the first offset still in the
	// log and the next offset to be written.
	Bounds(ctx context.Context) (map[int32]OffsetRange, error)
	// Read calls fn with each record of partition p with from <= offset <
	// to, in offset order; [from, to) lies within the partition's bounds.
	Read(ctx context.Context, partition int32, from, to int64, fn func(offset int64, value []byte) error) error
}

// OffsetRange is the span of offsets a partition holds: First is the
// oldest record still kept, End the next offset to be written.
type OffsetRange struct {
	First, End int64
}

// KafkaLog is the Log of a Kafka topic, over kafka-go.
type KafkaLog struct {
	Brokers []string
	Topic   string
	// Idle ends a Read early when no record arrives for that long (a
	// record below `to` that is not there, such as a transaction marker);
	// 0 means 10 s.
	Idle time.Duration
}

var _ Log = KafkaLog{}

// Bounds asks each partition's leader for its first and next offsets.
func (l KafkaLog) Bounds(ctx context.Context) (map[int32]OffsetRange, error) {
	d := &kafka.Dialer{Timeout: 5 * time.Second}
	var errs []error
	for _, broker := range l.Brokers {
		parts, err := d.LookupPartitions(ctx, "tcp", broker, l.Topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out := make(map[int32]OffsetRange, len(parts))
		for _, p := range parts {
			conn, err := d.DialLeader(ctx, "tcp", broker, l.Topic, p.ID)
			if err != nil {
				return nil, fmt.Errorf("bounds of %s/%d: dial leader: %w", l.Topic, p.ID, err)
			}
			first, end, err := conn.ReadOffsets()
			conn.Close() //nolint:errcheck // read-only connection
			if err != nil {
				return nil, fmt.Errorf("bounds of %s/%d: %w", l.Topic, p.ID, err)
			}
			out[int32(p.ID)] = OffsetRange{First: first, End: end}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bounds of %s: no broker answered: %w", l.Topic, errors.Join(errs...))
}

// Read fetches [from, to) of one partition with a partition reader.
func (l KafkaLog) Read(ctx context.Context, partition int32, from, to int64, fn func(offset int64, value []byte) error) error {
	if from >= to {
		return nil
	}
	idle := l.Idle
	if idle <= 0 {
		idle = 10 * time.Second
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: l.Brokers, Topic: l.Topic, Partition: int(partition),
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: time.Second})
	defer r.Close() //nolint:errcheck // nothing to flush on a reader
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("read %s/%d from %d: %w", l.Topic, partition, from, err)
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
				l.Topic, partition, errNoRecord, next, idle, to)
		case err != nil:
			return fmt.Errorf("read %s/%d at %d: %w", l.Topic, partition, next, err)
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

// errNoRecord: a Read waited in vain for a record its range says exists.
var errNoRecord = errors.New("log ends early")
