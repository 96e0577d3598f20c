package kafkabus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// EndOffsets returns the next offset of every partition of topic: a model
// whose manifest offsets reach them covers every message published so far.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: metadata: %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("end offsets of %s: metadata: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("end offsets of %s: topic has no partitions", topic)
	}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: list offsets: %w", topic, err)
	}
	end := make(map[int32]int64, len(reqs))
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offsets of %s: partition %d: %w", topic, po.Partition, po.Error)
		}
		end[int32(po.Partition)] = po.LastOffset
	}
	return end, nil
}
