package driftsvc

import (
	"context"
	"time"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// Log reads the ratings topic by partition and offset, outside any
// consumer group: the service (re)derives its reference from it, at start
// and whenever the serving model covers more of the log.
type Log interface {
	// Bounds returns, for every partition, the first offset still in the
	// log and the next offset to be written.
	Bounds(ctx context.Context) (map[int32]kafkabus.OffsetRange, error)
	// Read calls fn with each record of partition p with from <= offset <
	// to, in offset order; [from, to) lies within the partition's bounds.
	Read(ctx context.Context, partition int32, from, to int64, fn func(offset int64, value []byte) error) error
}

// KafkaLog is the Log of a Kafka topic: kafkabus.Bounds and
// kafkabus.ReadRange.
type KafkaLog struct {
	Brokers []string
	Topic   string
	// Idle ends a Read early when no record arrives for that long (a
	// record below `to` that is not there, such as a transaction marker);
	// 0 means 10 s.
	Idle time.Duration
}

var _ Log = KafkaLog{}

// Bounds asks for each partition's first and next offsets.
func (l KafkaLog) Bounds(ctx context.Context) (map[int32]kafkabus.OffsetRange, error) {
	return kafkabus.Bounds(ctx, l.Brokers, l.Topic)
}

// Read fetches [from, to) of one partition.
func (l KafkaLog) Read(ctx context.Context, partition int32, from, to int64, fn func(offset int64, value []byte) error) error {
	return kafkabus.ReadRange(ctx, l.Brokers, l.Topic, partition, from, to, l.Idle, fn)
}
