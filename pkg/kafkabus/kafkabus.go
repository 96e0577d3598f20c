// Package kafkabus is the thin adapter between SwipeFlix and Kafka, over
// segmentio/kafka-go: the topic names, a producer that returns only after
// every in-sync replica acknowledged, a consumer-group reader with explicit
// commits, the dead-letter queue and consumer lag.
package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// The topics of the event log.
const (
	// Ratings carries every rating and swipe event, key = user id.
	Ratings = "swipeflix.ratings"
	// DLQ receives copies of messages a consumer could not use, with the
	// reason and their origin in headers.
	DLQ = "swipeflix.ratings.dlq"
)

// ErrUnavailable is wrapped by Publish and SendDLQ errors that mean the
// brokers could not be reached or could not acknowledge in time: the caller
// may retry later (ingest answers 503).
var ErrUnavailable = errors.New("kafka unavailable")

// Message is one Kafka record as SwipeFlix sees it, whatever client reads
// or writes it.
type Message struct {
	// Topic is where the record is (or goes; empty: the producer's topic).
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	// Time is the record's timestamp: the broker's append time or the
	// producer's create time, as the topic is configured; never the
	// event time a client claims in the value.
	Time time.Time
	// HighWaterMark is, on a consumed record, the partition's end offset
	// when it was fetched: HighWaterMark - Offset - 1 records follow it.
	HighWaterMark int64
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

func toKafka(m Message) kafka.Message {
	km := kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}
	if len(m.Headers) > 0 {
		km.Headers = make([]kafka.Header, len(m.Headers))
		for i, h := range m.Headers {
			km.Headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
		}
	}
	return km
}

func fromKafka(km kafka.Message) Message {
	m := Message{Topic: km.Topic, Partition: km.Partition, Offset: km.Offset, Key: km.Key, Value: km.Value,
		Time: km.Time, HighWaterMark: km.HighWaterMark}
	if len(km.Headers) > 0 {
		m.Headers = make([]Header, len(km.Headers))
		for i, h := range km.Headers {
			m.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	// Brokers is the seed list (host:port).
	Brokers []string
	// Topic is where Publish writes messages that name no topic (default Ratings).
	Topic string
	// Timeout bounds one Publish call, dial and acknowledgement included
	// (default 5s). An unreachable broker fails within it.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt (default 1s).
	DialTimeout time.Duration
	// BatchTimeout is how long a partial batch waits for more messages
	// before it is sent (default 2ms). kafka-go's own default of 1s would
	// add a second to every small synchronous publish.
	BatchTimeout time.Duration
	// BatchSize is the most messages per partition batch (default 1000).
	BatchSize int
}

// Producer writes messages with acks from all in-sync replicas
// (RequiredAcks = RequireAll), partitioned by key with murmur2, the Java
// client's partitioner, so every producer sends a user to the same partition.
type Producer struct {
	w       *kafka.Writer
	topic   string
	timeout time.Duration
}

// NewProducer returns a producer; it connects lazily on the first Publish.
func NewProducer(cfg ProducerConfig) *Producer {
	if cfg.Topic == "" {
		cfg.Topic = Ratings
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 2 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	w := &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Balancer:        &kafka.Murmur2Balancer{},
		RequiredAcks:    kafka.RequireAll,
		MaxAttempts:     3,
		WriteBackoffMin: 20 * time.Millisecond,
		WriteBackoffMax: 200 * time.Millisecond,
		BatchTimeout:    cfg.BatchTimeout,
		BatchSize:       cfg.BatchSize,
		// The broker's default message.max.bytes: a larger batch would be
		// refused, so kafka-go splits before it.
		BatchBytes:   1 << 20,
		ReadTimeout:  cfg.Timeout,
		WriteTimeout: cfg.Timeout,
		Transport: &kafka.Transport{
			DialTimeout: cfg.DialTimeout,
			IdleTimeout: 30 * time.Second,
			MetadataTTL: 10 * time.Second,
			ClientID:    "swipeflix",
		},
	}
	return &Producer{w: w, topic: cfg.Topic, timeout: cfg.Timeout}
}

// Publish writes msgs and returns once all in-sync replicas acknowledged
// every one of them, or with an error. Messages without a Topic go to the
// producer's topic. It never takes longer than the configured Timeout.
func (p *Producer) Publish(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for i := range msgs {
		if msgs[i].Topic == "" {
			msgs[i].Topic = p.topic
		}
	}
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = toKafka(m)
	}
	wctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := p.w.WriteMessages(wctx, kms...); err != nil {
		return classify(ctx, fmt.Sprintf("publish %d messages", len(msgs)), err)
	}
	return nil
}

// Close flushes and closes the producer's connections.
func (p *Producer) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	return nil
}

// DLQ header names. The value of the original record is copied unchanged
// unless it is too large to carry the headers too (HeaderTruncated).
const (
	HeaderReason          = "swipeflix-dlq-reason"
	HeaderSourceTopic     = "swipeflix-source-topic"
	HeaderSourcePartition = "swipeflix-source-partition"
	HeaderSourceOffset    = "swipeflix-source-offset"
	// HeaderTruncated, when present, holds the original value's length:
	// the copy holds only its first MaxDLQValue bytes.
	HeaderTruncated = "swipeflix-dlq-truncated"
)

// MaxDLQValue is the largest value copied to the DLQ whole. A message near
// the broker's 1 MiB limit fits its topic but not with the DLQ headers
// added, so a larger value is cut to this prefix; the original stays in
// its topic at the offset the headers name.
const MaxDLQValue = 512 << 10

// maxDLQHeaders bounds the original headers copied along; past it they are
// dropped (the original message still has them).
const maxDLQHeaders = 64 << 10

// SendDLQ copies msg (key, value and headers, byte for byte, the value cut
// to MaxDLQValue bytes when larger) to the DLQ topic with the reason and
// the source topic, partition and offset as headers, and waits for the
// acknowledgement.
func (p *Producer) SendDLQ(ctx context.Context, msg Message, reason string) error {
	headers := make([]Header, 0, len(msg.Headers)+5)
	if headerBytes(msg.Headers) <= maxDLQHeaders {
		headers = append(headers, msg.Headers...)
	}
	headers = append(headers,
		Header{Key: HeaderReason, Value: []byte(reason)},
		Header{Key: HeaderSourceTopic, Value: []byte(msg.Topic)},
		Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(msg.Partition))},
		Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
	)
	value, key := msg.Value, msg.Key
	if len(value) > MaxDLQValue {
		headers = append(headers, Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(value)))})
		value = value[:MaxDLQValue]
	}
	if len(key) > maxDLQHeaders {
		key = key[:maxDLQHeaders]
	}
	dlq := Message{Topic: DLQ, Key: key, Value: value, Headers: headers, Time: msg.Time}
	if err := p.Publish(ctx, []Message{dlq}); err != nil {
		return fmt.Errorf("send %s/%d/%d to dlq: %w", msg.Topic, msg.Partition, msg.Offset, err)
	}
	return nil
}

func headerBytes(hs []Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// HeaderValue returns the value of the last header named key, or "".
func HeaderValue(msg Message, key string) string {
	for i := len(msg.Headers) - 1; i >= 0; i-- {
		if msg.Headers[i].Key == key {
			return string(msg.Headers[i].Value)
		}
	}
	return ""
}

// classify wraps err with the operation, adding ErrUnavailable when the
// failure is about reaching or hearing from the brokers rather than a
// request the broker refused for good. A cancelled caller context is
// reported as such, not as unavailability.
func classify(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unavailable(err error) bool {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil && unavailable(e) {
				return true
			}
		}
		return false
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary() || kerr.Timeout()
	}
	var nerr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &nerr)
}
