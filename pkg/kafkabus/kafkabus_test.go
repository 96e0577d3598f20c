package kafkabus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newProducer is a producer to brokers, closed by t.Cleanup.
func newProducer(t *testing.T, brokers []string) *kafkabus.Producer {
	t.Helper()
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: brokers})
	t.Cleanup(func() { p.Close() })
	return p
}

// startWith starts a broker holding messages(n, users).
func startWith(ctx context.Context, t *testing.T, n, users int) *embedded.Kafka {
	t.Helper()
	k := embeddedtest.StartTestKafka(t)
	if err := newProducer(t, k.Brokers()).Publish(ctx, messages(n, users)); err != nil {
		t.Fatal(err)
	}
	return k
}

func messages(n, users int) []kafkabus.Message {
	msgs := make([]kafkabus.Message, n)
	for i := range msgs {
		msgs[i] = kafkabus.Message{
			Key:   []byte(fmt.Sprintf("user-%d", i%users)),
			Value: []byte(fmt.Sprintf(`{"n":%d}`, i)),
		}
	}
	return msgs
}

func TestPublishGroupConsumeCommit(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	p := newProducer(t, k.Brokers())

	const n = 60
	if err := p.Publish(ctx, messages(n, 7)); err != nil {
		t.Fatalf("publish: %v", err)
	}

	lag, err := kafkabus.Lag(ctx, k.Brokers(), "g1", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	if total := sum(lag); total != n || len(lag) != 3 {
		t.Fatalf("lag before consuming = %v (total %d), want 3 partitions totalling %d", lag, total, n)
	}

	r := kafkabus.NewGroupReader(k.Brokers(), "g1", kafkabus.Ratings)
	partOf := map[string]int{}
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatalf("fetch after %d: %v", len(seen), err)
		}
		key := string(m.Key)
		if p, ok := partOf[key]; ok && p != m.Partition {
			t.Errorf("key %s on partitions %d and %d", key, p, m.Partition)
		}
		partOf[key] = m.Partition
		seen[string(m.Value)] = true
		if err := r.Commit(ctx, m); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if lag, err = kafkabus.Lag(ctx, k.Brokers(), "g1", kafkabus.Ratings); err != nil || sum(lag) != 0 {
		t.Fatalf("lag after commit = %v, %v; want 0", lag, err)
	}

	// A new member of the same group starts after the committed offsets.
	if err := p.Publish(ctx, []kafkabus.Message{{Key: []byte("user-1"), Value: []byte("after")}}); err != nil {
		t.Fatal(err)
	}
	r2 := kafkabus.NewGroupReader(k.Brokers(), "g1", kafkabus.Ratings)
	defer r2.Close()
	m, err := r2.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != "after" {
		t.Fatalf("rejoined group read %q first, want the record after the commit", m.Value)
	}
}

func TestPublishUnavailableBroker(t *testing.T) {
	ctx := testCtx(t)
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: k.Brokers(), Timeout: 2 * time.Second})
	defer p.Close()
	if err := p.Publish(ctx, messages(1, 1)); err != nil {
		t.Fatalf("publish while up: %v", err)
	}
	k.Close()
	err = p.Publish(ctx, messages(3, 1))
	if !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("publish to a stopped broker: %v, want ErrUnavailable", err)
	}
}

func TestPublishNeverReachable(t *testing.T) {
	ctx := testCtx(t)
	// Port 1 on localhost: nothing listens, the dial is refused.
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: []string{"127.0.0.1:1"}, Timeout: time.Second})
	defer p.Close()
	if err := p.Publish(ctx, messages(1, 1)); !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("publish to nowhere: %v, want ErrUnavailable", err)
	}
}

func TestSendDLQ(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	p := newProducer(t, k.Brokers())

	orig := kafkabus.Message{
		Topic: kafkabus.Ratings, Partition: 2, Offset: 41,
		Key:     []byte("user-9"),
		Value:   []byte("{not json\x00\xff"),
		Headers: []kafkabus.Header{{Key: "trace", Value: []byte("abc")}},
	}
	if err := p.SendDLQ(ctx, orig, "decode: invalid character"); err != nil {
		t.Fatal(err)
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "dlq-check", kafkabus.DLQ)
	defer r.Close()
	m, err := r.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != string(orig.Value) || string(m.Key) != "user-9" {
		t.Errorf("dlq copy key %q value %q, want the original bytes", m.Key, m.Value)
	}
	for key, want := range map[string]string{
		"trace":                        "abc",
		kafkabus.HeaderReason:          "decode: invalid character",
		kafkabus.HeaderSourceTopic:     kafkabus.Ratings,
		kafkabus.HeaderSourcePartition: "2",
		kafkabus.HeaderSourceOffset:    strconv.Itoa(41),
	} {
		if got := kafkabus.HeaderValue(m, key); got != want {
			t.Errorf("header %s = %q, want %q", key, got, want)
		}
	}
}

func sum(m map[int]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

func TestPing(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	if err := kafkabus.Ping(ctx, k.Brokers(), time.Second); err != nil {
		t.Fatalf("ping a running broker: %v", err)
	}
	if err := kafkabus.Ping(ctx, []string{"127.0.0.1:1"}, time.Second); !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("ping nowhere: %v, want ErrUnavailable", err)
	}
}

func TestPingStoppedBroker(t *testing.T) {
	ctx := testCtx(t)
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkabus.Ping(ctx, k.Brokers(), time.Second); err != nil {
		t.Fatalf("ping while up: %v", err)
	}
	k.Close()
	if err := kafkabus.Ping(ctx, k.Brokers(), time.Second); !errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("ping a stopped broker: %v, want ErrUnavailable", err)
	}
}

func TestReportLag(t *testing.T) {
	ctx := testCtx(t)
	k := startWith(ctx, t, 9, 9)
	rctx, stop := context.WithCancel(ctx)
	got := make(chan map[int]int64, 1)
	seen := map[int]int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		kafkabus.ReportLag(rctx, time.Millisecond, k.Brokers(), "reporter", kafkabus.Ratings,
			func(p int, l int64) {
				seen[p] = l
				if len(seen) == 3 {
					select {
					case got <- maps.Clone(seen):
					default:
					}
				}
			},
			func(err error) { t.Errorf("report lag: %v", err) })
	}()
	lag := <-got
	stop()
	<-done
	if sum(lag) != 9 {
		t.Fatalf("reported lag %v, want 9 in total", lag)
	}
}

func TestStartAtLastOffset(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafkaPartitions(t, 1)
	p := newProducer(t, k.Brokers())
	if err := p.Publish(ctx, []kafkabus.Message{{Key: []byte("u"), Value: []byte("old")}}); err != nil {
		t.Fatal(err)
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "tail", kafkabus.Ratings,
		kafkabus.WithStartOffset(kafka.LastOffset), kafkabus.WithMaxWait(50*time.Millisecond))
	defer r.Close()
	got := make(chan string, 1)
	go func() {
		m, err := r.Fetch(ctx)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(m.Value)
	}()
	// Keep publishing until the reader, which joins at the end of the log,
	// sees something: it must be a new record, never the old one.
	for {
		if err := p.Publish(ctx, []kafkabus.Message{{Key: []byte("u"), Value: []byte("new")}}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v != "new" {
				t.Fatalf("a reader starting at the last offset read %q", v)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("nothing read")
		}
	}
}

func TestPublishCancelledIsNotUnavailable(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	p := newProducer(t, k.Brokers())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Publish(ctx, messages(1, 1))
	if !errors.Is(err, context.Canceled) || errors.Is(err, kafkabus.ErrUnavailable) {
		t.Fatalf("publish with a cancelled context: %v, want context.Canceled only", err)
	}
}

func TestFetchAfterClose(t *testing.T) {
	k := embeddedtest.StartTestKafka(t)
	r := kafkabus.NewGroupReader(k.Brokers(), "closed", kafkabus.Ratings)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetch(testCtx(t)); !errors.Is(err, kafkabus.ErrClosed) {
		t.Fatalf("fetch after close: %v, want ErrClosed", err)
	}
}

// A message near the broker's 1 MiB limit fits the topic but not with the
// DLQ headers added: its copy is truncated to a prefix, and says so, so that
// every bad message lands in the DLQ (issue 10, defect 9).
func TestSendDLQNearTheSizeLimit(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	p := newProducer(t, k.Brokers())
	for _, size := range []int{1_048_400, 1_048_500, 1_048_576} {
		orig := kafkabus.Message{Topic: kafkabus.Ratings, Partition: 1, Offset: int64(size),
			Key: []byte("user-1"), Value: bytes.Repeat([]byte("x"), size)}
		if err := p.SendDLQ(ctx, orig, "decode: too big"); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "dlq-big", kafkabus.DLQ)
	defer r.Close()
	for range 3 {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		size := kafkabus.HeaderValue(m, kafkabus.HeaderSourceOffset)
		if got := kafkabus.HeaderValue(m, kafkabus.HeaderTruncated); got != size {
			t.Errorf("message of %s bytes: truncated header %q, want the original size", size, got)
		}
		if len(m.Value) == 0 || len(m.Value) > kafkabus.MaxDLQValue || m.Value[0] != 'x' {
			t.Errorf("message of %s bytes: copy of %d bytes, want a prefix of at most %d", size, len(m.Value), kafkabus.MaxDLQValue)
		}
		if kafkabus.HeaderValue(m, kafkabus.HeaderReason) != "decode: too big" {
			t.Errorf("message of %s bytes: reason lost", size)
		}
	}
}

// TestPingSlowBroker pings through a proxy that holds every answer for 30 ms:
// a broker that is up but slow must count as up when the answer comes well
// within the timeout.
func TestPingSlowBroker(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	addr := slowProxy(t, k.Brokers()[0], 30*time.Millisecond)
	if err := kafkabus.Ping(ctx, []string{addr}, 2*time.Second); err != nil {
		t.Fatalf("ping a broker that answers in 30 ms with a 2 s timeout: %v", err)
	}
}

// slowProxy forwards TCP connections to target and delays every chunk the
// target sends back by delay.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			go io.Copy(u, c)
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := u.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
