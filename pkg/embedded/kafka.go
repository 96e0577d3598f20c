// Package embedded runs the brokers SwipeFlix needs inside the process: a
// Kafka-protocol broker (franz-go's kfake) and a NATS server with JetStream.
// Services still reach them over the wire (kafka-go, nats.go), so an
// embedded run exercises the same client code as a distributed one.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// Topic names seeded into the embedded broker: the event log's, as
// package kafkabus names them.
const (
	RatingsTopic = kafkabus.Ratings
	DLQTopic     = kafkabus.DLQ
)

// DefaultKafkaPort is the port the embedded broker tries first.
const DefaultKafkaPort = 9092

// KafkaConfig configures the embedded Kafka-protocol broker.
type KafkaConfig struct {
	// DataDir holds the log, offsets and group state; the broker reloads it
	// on start, so records survive a restart. Empty keeps everything in memory.
	DataDir string
	// Port is tried first; when it is taken a free port is used instead
	// (Kafka.FellBack reports it). 0 means a free port straight away.
	Port int
	// Partitions of the ratings topic (default 3). The DLQ has one.
	Partitions int32
	// Logger receives the broker's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Kafka is a running in-process Kafka-protocol broker.
type Kafka struct {
	cluster  *kfake.Cluster
	addr     string
	fellBack bool
}

// StartKafka starts the broker, waits until it answers metadata requests and
// makes sure both SwipeFlix topics exist (also on a data dir written by an
// older run that predates one of them).
func StartKafka(ctx context.Context, cfg KafkaConfig) (*Kafka, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	opts := []kfake.Opt{
		kfake.SeedTopics(cfg.Partitions, RatingsTopic),
		kfake.SeedTopics(1, DLQTopic),
		kfake.ClusterID("swipeflix-embedded"),
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("embedded kafka: create data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger}))
	}
	k := &Kafka{}
	c, err := kfake.NewCluster(append(opts, kfake.Ports(cfg.Port))...)
	if err != nil && cfg.Port != 0 && isAddrInUse(err) {
		k.fellBack = true
		c, err = kfake.NewCluster(append(opts, kfake.Ports(0))...)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: start: %w", err)
	}
	k.cluster = c
	k.addr = c.ListenAddrs()[0]
	if err := k.ensureTopics(ctx, cfg.Partitions); err != nil {
		c.Close()
		return nil, err
	}
	return k, nil
}

// Addr is the broker's host:port, for KAFKA_BROKERS.
func (k *Kafka) Addr() string { return k.addr }

// Brokers is Addr as a one-element seed list.
func (k *Kafka) Brokers() []string { return []string{k.addr} }

// FellBack reports whether the requested port was taken and a free one used.
func (k *Kafka) FellBack() bool { return k.fellBack }

// Close stops the broker and, with a data dir, writes its state to disk.
func (k *Kafka) Close() { k.cluster.Close() }

// ensureTopics creates any SwipeFlix topic a reloaded data dir lacks. It
// doubles as the ready-wait: the first successful answer means the broker's
// loop is serving requests.
func (k *Kafka) ensureTopics(ctx context.Context, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("embedded kafka: client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 5000
	for _, t := range []struct {
		name string
		n    int32
	}{{RatingsTopic, partitions}, {DLQTopic, 1}} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t.name
		rt.NumPartitions = t.n
		rt.ReplicationFactor = 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("embedded kafka: create topics: %w", err)
	}
	for _, t := range resp.Topics {
		// 36 is TOPIC_ALREADY_EXISTS: the normal case.
		if t.ErrorCode != 0 && t.ErrorCode != 36 {
			return fmt.Errorf("embedded kafka: create topic %s: error code %d", t.Topic, t.ErrorCode)
		}
	}
	return nil
}

func isAddrInUse(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "listen"
}

// kfakeLogger forwards kfake's log lines to slog.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch level {
	case kfake.LogLevelError:
		k.l.Error("kfake", "text", msg)
	case kfake.LogLevelWarn:
		k.l.Warn("kfake", "text", msg)
	default:
		k.l.Debug("kfake", "text", msg)
	}
}
