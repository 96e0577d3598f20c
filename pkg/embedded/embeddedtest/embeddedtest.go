// Package embeddedtest starts embedded brokers for other packages' tests:
// random ports, a fresh t.TempDir, stopped by t.Cleanup.
package embeddedtest

import (
	"context"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/embedded"
)

// StartTestKafka starts a Kafka-protocol broker with the SwipeFlix topics
// (ratings with 3 partitions, DLQ with 1) and returns it.
func StartTestKafka(t testing.TB) *embedded.Kafka {
	t.Helper()
	return StartTestKafkaPartitions(t, 3)
}

// StartTestKafkaPartitions is StartTestKafka with a chosen partition count
// for the ratings topic.
func StartTestKafkaPartitions(t testing.TB, partitions int32) *embedded.Kafka {
	t.Helper()
	k, err := embedded.StartKafka(context.Background(), embedded.KafkaConfig{
		DataDir:    t.TempDir(),
		Partitions: partitions,
	})
	if err != nil {
		t.Fatalf("start test kafka: %v", err)
	}
	t.Cleanup(k.Close)
	return k
}

// StartTestNATS starts a NATS server with JetStream on a file store in a
// temporary directory and returns it; use URL() to connect.
func StartTestNATS(t testing.TB) *embedded.NATS {
	t.Helper()
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start test nats: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}
