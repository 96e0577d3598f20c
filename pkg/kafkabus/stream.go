package kafkabus

import (
	"context"
	"fmt"
	"sync"

	"github.com/segmentio/kafka-go"
)

// Stream publishes a long run of messages with many of them unacknowledged
// at once, so that the caller's encoding, the network and the broker work
// at the same time; Producer.Publish waits for every call's
// acknowledgement before the next one starts.
//
// Order is kept where Kafka defines it: Send hands messages to their
// partitions in call order, and each partition's batches are written one
// after another, retries included, so messages with the same key arrive in
// the order they were sent. After the first failure a Stream sends nothing
// more: a later batch never lands ahead of a lost earlier one unnoticed.
type Stream struct {
	w      *kafka.Writer
	topic  string
	window int
	onAck  func(n int)

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever inFlight or err changes
	inFlight int
	acked    int64
	err      error
}

// StreamConfig configures a Stream.
type StreamConfig struct {
	ProducerConfig
	// Window is the most messages sent and not yet acknowledged (default
	// 20,000); Send waits for room.
	Window int
	// OnAck, if set, is called with the size of every acknowledged batch,
	// from the writer's goroutines.
	OnAck func(n int)
}

// NewStream returns a stream; it connects lazily on the first Send.
func NewStream(cfg StreamConfig) *Stream {
	if cfg.Window <= 0 {
		cfg.Window = 20_000
	}
	p := NewProducer(cfg.ProducerConfig)
	s := &Stream{w: p.w, topic: p.topic, window: cfg.Window, onAck: cfg.OnAck, changed: make(chan struct{})}
	s.w.Async = true
	s.w.Completion = s.completed
	return s
}

// completed is the writer's report on one batch.
func (s *Stream) completed(msgs []kafka.Message, err error) {
	// Before settle: once Flush sees nothing in flight, every OnAck ran.
	if err == nil && s.onAck != nil {
		s.onAck(len(msgs))
	}
	s.settle(len(msgs), func() error {
		return classify(context.Background(), fmt.Sprintf("publish %d messages", len(msgs)), err)
	}, err)
}

// settle takes n messages out of flight, counting them as acknowledged
// when failed is nil and keeping wrap()'s error when it is the first
// failure, and wakes the waiters.
func (s *Stream) settle(n int, wrap func() error, failed error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight -= n
	switch {
	case failed == nil:
		s.acked += int64(n)
	case s.err == nil:
		s.err = wrap()
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Send queues msgs behind everything sent before, once the window has room
// for them (a batch larger than the window waits for an empty one). It
// returns the first failure of any earlier batch, or ctx's error.
func (s *Stream) Send(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := s.wait(ctx, func() bool { return s.inFlight == 0 || s.inFlight+len(msgs) <= s.window }); err != nil {
		return err
	}
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		if m.Topic == "" {
			m.Topic = s.topic
		}
		kms[i] = toKafka(m)
	}
	s.mu.Lock()
	s.inFlight += len(kms)
	s.mu.Unlock()
	if err := s.w.WriteMessages(ctx, kms...); err != nil {
		// Nothing of this call was queued (metadata, size or a closed
		// writer).
		s.settle(len(kms), func() error { return classify(ctx, fmt.Sprintf("publish %d messages", len(kms)), err) }, err)
		return s.Err()
	}
	return nil
}

// Err is the first failure of any batch so far, or nil.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Flush waits until every message sent is acknowledged or failed, and
// returns the first failure, or ctx's error.
func (s *Stream) Flush(ctx context.Context) error {
	return s.wait(ctx, func() bool { return s.inFlight == 0 })
}

// wait blocks until ready holds (under the lock), a batch failed or ctx
// ends.
func (s *Stream) wait(ctx context.Context, ready func() bool) error {
	for {
		s.mu.Lock()
		err, ok, changed := s.err, ready(), s.changed
		s.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("publish: %w", ctx.Err())
		}
	}
}

// Acked is how many messages the brokers acknowledged so far.
func (s *Stream) Acked() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Close sends what is queued, waits for its acknowledgement and closes the
// connections; it returns the first failure of any batch.
func (s *Stream) Close() error {
	cerr := s.w.Close()
	if err := s.Err(); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("close stream: %w", cerr)
	}
	return nil
}
