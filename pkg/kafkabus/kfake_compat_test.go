package kafkabus_test

// These tests pin down how kafka-go behaves against kfake, the embedded
// broker, beyond the happy path in kafkabus_test.go: group rebalancing,
// committed offsets across a broker restart, partitioning agreement with
// franz-go and kcat.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// Two members of one group split the partitions: records keep coming until
// both members have read some, and together they read every record.
func TestGroupOfTwoSplitsPartitions(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafkaPartitions(t, 4)
	p := newProducer(t, k.Brokers())

	var mu sync.Mutex
	seen := map[string]bool{}
	var perMember [2]int
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := range 2 {
		r := kafkabus.NewGroupReader(k.Brokers(), "pair", kafkabus.Ratings)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.Fetch(rctx)
				if err != nil {
					return
				}
				if err := r.Commit(rctx, m); err != nil {
					return
				}
				mu.Lock()
				seen[string(m.Value)] = true
				perMember[i]++
				mu.Unlock()
			}
		}()
	}
	published := 0
	both := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return perMember[0] > 0 && perMember[1] > 0 && len(seen) == published
	}
	for !both() {
		if ctx.Err() != nil {
			t.Fatalf("members read %v records, %d distinct of %d published", perMember, len(seen), published)
		}
		batch := messages(40, 40)
		for i := range batch {
			batch[i].Value = []byte(fmt.Sprintf("r%d", published+i))
		}
		if err := p.Publish(ctx, batch); err != nil {
			t.Fatal(err)
		}
		published += len(batch)
		time.Sleep(50 * time.Millisecond) // pacing only; nothing is timed
	}
	stop()
	wg.Wait()
}

// Committed offsets live in the data dir: after a broker restart the group
// resumes where it committed.
func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: dir, Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: k.Brokers()})
	if err := p.Publish(ctx, messages(30, 5)); err != nil {
		t.Fatal(err)
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "durable", kafkabus.Ratings)
	for range 30 {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	p.Close()
	k.Close()

	k2, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	lag, err := kafkabus.Lag(ctx, k2.Brokers(), "durable", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	if sum(lag) != 0 {
		t.Fatalf("lag after restart = %v, want 0 (commits lost)", lag)
	}
	if n, err := kafkabus.TotalLag(ctx, k2.Brokers(), "never-read", kafkabus.Ratings); err != nil || n != 30 {
		t.Fatalf("lag of a new group after restart = %d, %v; want 30", n, err)
	}
}

// kafka-go's murmur2 balancer puts a key on the same partition as franz-go's
// default partitioner (the Java client's), so producers of either kind keep
// a user's events in order.
func TestPartitioningAgreesWithFranzGo(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafkaPartitions(t, 5)
	p := newProducer(t, k.Brokers())
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic(kafkabus.Ratings))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	want := map[string]int32{}
	for i := range 30 {
		key := fmt.Sprintf("user-%d", i)
		rec := &kgo.Record{Key: []byte(key), Value: []byte("franz")}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[key] = rec.Partition
		if err := p.Publish(ctx, []kafkabus.Message{{Key: []byte(key), Value: []byte("kafka-go")}}); err != nil {
			t.Fatal(err)
		}
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "agree", kafkabus.Ratings)
	defer r.Close()
	for range 60 {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int32(m.Partition) != want[string(m.Key)] {
			t.Errorf("%s from %s on partition %d, franz-go put it on %d", m.Key, m.Value, m.Partition, want[string(m.Key)])
		}
	}
}

// kcat (librdkafka), a third-party client, produces into the embedded broker
// and a kafka-go group reader consumes it. With librdkafka's murmur2
// partitioner it agrees with kafka-go on the partition of each key.
func TestKcatProducesKafkaGoConsumes(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (Debian package kcat)")
	}
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)

	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, "user-%d\t{\"n\":%d}\n", i%6, i)
	}
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", k.Addr(), "-t", kafkabus.Ratings,
		"-K", "\t", "-X", "topic.partitioner=murmur2_random", "-X", "acks=all")
	cmd.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}

	p := newProducer(t, k.Brokers())
	if err := p.Publish(ctx, messages(6, 6)); err != nil { // user-0..user-5 once more
		t.Fatal(err)
	}
	r := kafkabus.NewGroupReader(k.Brokers(), "kcat-check", kafkabus.Ratings)
	defer r.Close()
	partOf := map[string]int{}
	for range 26 {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := string(m.Key)
		if prev, ok := partOf[key]; ok && prev != m.Partition {
			t.Errorf("key %s on partitions %d and %d (kcat vs kafka-go)", key, prev, m.Partition)
		}
		partOf[key] = m.Partition
	}
	if len(partOf) != 6 {
		t.Fatalf("read keys %v, want user-0..user-5", partOf)
	}
}
