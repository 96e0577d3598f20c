// Package embeddedtest starts embedded brokers for other packages' tests:
// random ports, a fresh t.TempDir, stopped by t.Cleanup.
package embeddedtest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// Connect connects a NATS client to url; t.Cleanup closes it.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to nats at %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection to url, closed
// by t.Cleanup.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(Connect(t, url))
	if err != nil {
		t.Fatalf("jetstream at %s: %v", url, err)
	}
	return js
}
