package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// TotalLag is Lag summed over the topic's partitions: for a group that has
// committed nothing, how many records the topic holds.
func TotalLag(ctx context.Context, brokers []string, group, topic string) (int64, error) {
	lag, err := Lag(ctx, brokers, group, topic)
	var n int64
	for _, l := range lag {
		n += l
	}
	return n, err
}

// Lag returns, per partition of topic, how many records group has not
// committed yet: the partition's end offset minus the group's committed
// offset (the whole partition when the group has committed nothing).
func Lag(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	cl := newClient(brokers)
	b, err := bounds(ctx, cl, topic)
	if err != nil {
		return nil, fmt.Errorf("lag of %s on %s: %w", group, topic, err)
	}
	parts := make([]int, 0, len(b))
	lag := make(map[int]int64, len(b))
	for p, r := range b {
		parts = append(parts, int(p))
		lag[int(p)] = r.End - r.First
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("lag of %s on %s: offset fetch: %w", group, topic, err)
	}
	// Real Kafka answers an unknown group with offset -1 for every
	// partition; kfake answers GROUP_ID_NOT_FOUND. Both mean "nothing
	// committed yet".
	if of.Error != nil && !errors.Is(of.Error, kafka.GroupIdNotFound) {
		return nil, fmt.Errorf("lag of %s on %s: offset fetch: %w", group, topic, of.Error)
	}
	for _, op := range of.Topics[topic] {
		if op.Error != nil && !errors.Is(op.Error, kafka.GroupIdNotFound) {
			return nil, fmt.Errorf("lag of %s on %s: committed offset of partition %d: %w", group, topic, op.Partition, op.Error)
		}
		if op.CommittedOffset >= 0 {
			lag[op.Partition] = max(0, b[int32(op.Partition)].End-op.CommittedOffset)
		}
	}
	return lag, nil
}

// ReportLag calls Lag every interval until ctx ends and hands each
// partition's lag to set (typically a gauge's Set). Errors go to onErr and
// do not stop the loop. It blocks; run it in a goroutine the caller owns.
func ReportLag(ctx context.Context, interval time.Duration, brokers []string, group, topic string,
	set func(partition int, lag int64), onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		lag, err := Lag(ctx, brokers, group, topic)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			onErr(err)
		}
		for p, l := range lag {
			set(p, l)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ping asks the brokers for metadata of the ratings topic and reports
// ErrUnavailable when none answers within timeout.
func Ping(ctx context.Context, brokers []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A transport of its own: the shared default one caches metadata and
	// would answer for a broker that is gone. A new transport fetches the
	// metadata once, live; its TTL is also the deadline of that fetch, so it
	// gets the whole timeout (a 1 ms TTL failed any broker slower than 1 ms).
	tr := &kafka.Transport{DialTimeout: timeout, MetadataTTL: timeout}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: timeout, Transport: tr}
	if _, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{Ratings}}); err != nil {
		return fmt.Errorf("ping kafka %v: %w: %w", brokers, ErrUnavailable, err)
	}
	return nil
}
