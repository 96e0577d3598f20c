package kafkabus_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// TestStreamKeepsEveryKeysOrder sends many batches with a window much
// smaller than the total, so Send waits for room, and reads everything
// back: every message once, and each key's messages in the order sent.
func TestStreamKeepsEveryKeysOrder(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	var acked atomic.Int64
	s := kafkabus.NewStream(kafkabus.StreamConfig{
		ProducerConfig: kafkabus.ProducerConfig{Brokers: k.Brokers()},
		Window:         700,
		OnAck:          func(n int) { acked.Add(int64(n)) },
	})
	defer s.Close()

	const n, users, batch = 12_000, 37, 250
	all := messages(n, users)
	for i := 0; i < n; i += batch {
		if err := s.Send(ctx, all[i:i+batch]); err != nil {
			t.Fatalf("send at %d: %v", i, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Acked() != n || acked.Load() != n {
		t.Fatalf("acked %d, OnAck summed %d, want %d", s.Acked(), acked.Load(), n)
	}

	r := kafkabus.NewGroupReader(k.Brokers(), "stream-order", kafkabus.Ratings)
	defer r.Close()
	last := map[string]int{}
	for range n {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetch after %d: %v", len(last), err)
		}
		v := strings.TrimSuffix(strings.TrimPrefix(string(m.Value), `{"n":`), "}")
		seq, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("value %q: %v", m.Value, err)
		}
		key := string(m.Key)
		if prev, ok := last[key]; ok && seq <= prev {
			t.Fatalf("key %s: message %d after %d", key, seq, prev)
		}
		last[key] = seq
	}
	if len(last) != users {
		t.Fatalf("read %d keys, want %d", len(last), users)
	}
}

// TestStreamReportsAStoppedBroker: batches that cannot be delivered fail
// Flush (and every later Send) with ErrUnavailable, and are not counted.
func TestStreamReportsAStoppedBroker(t *testing.T) {
	ctx := testCtx(t)
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := kafkabus.NewStream(kafkabus.StreamConfig{ProducerConfig: kafkabus.ProducerConfig{Brokers: k.Brokers(), Timeout: time.Second}})
	defer s.Close()
	if err := s.Send(ctx, messages(10, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush while up: %v", err)
	}
	k.Close()
	err = s.Send(ctx, messages(10, 3))
	if err == nil {
		err = s.Flush(ctx)
	}
	if !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("send to a stopped broker: %v, want ErrUnavailable", err)
	}
	if err := s.Send(ctx, messages(1, 1)); !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("send after a failure: %v, want the first failure again", err)
	}
	if s.Acked() != 10 {
		t.Fatalf("acked %d, want the 10 delivered before the stop", s.Acked())
	}
}

// TestStreamSendHonoursItsContext: a Send waiting for room in the window
// returns when its context ends.
func TestStreamSendHonoursItsContext(t *testing.T) {
	ctx := testCtx(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, kafkabus.Ratings))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The broker holds every produce request until release is closed: the
	// first batch stays unacknowledged while the second waits for room.
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		<-release
		return nil, nil, false
	})
	s := kafkabus.NewStream(kafkabus.StreamConfig{ProducerConfig: kafkabus.ProducerConfig{Brokers: c.ListenAddrs()}, Window: 5})
	defer s.Close()
	if err := s.Send(ctx, messages(5, 1)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Send(short, messages(5, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send past its deadline: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if s.Acked() != 5 {
		t.Fatalf("acked %d, want the first batch's 5", s.Acked())
	}
}
