package kafkabus_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// read runs r until n messages arrived and returns them.
func read(ctx context.Context, t *testing.T, r *kafkabus.PartitionReader, n int) []kafkabus.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan kafkabus.Message)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, out) }()
	var got []kafkabus.Message
	for len(got) < n {
		select {
		case m := <-out:
			got = append(got, m)
		case <-ctx.Done():
			t.Fatalf("read %d of %d", len(got), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got
}

// Every partition is read from the offset asked for, in order, without a
// group; commits are the group's and Lag sees them.
func TestPartitionReaderFromOffsets(t *testing.T) {
	ctx := testCtx(t)
	const n = 90
	k := startWith(ctx, t, n, 11)
	all := read(ctx, t, kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{
		Brokers: k.Brokers(), Topic: kafkabus.Ratings, Group: "g"}), n)
	perPart := map[int][]int64{}
	for _, m := range all {
		perPart[m.Partition] = append(perPart[m.Partition], m.Offset)
		if m.Time.IsZero() || m.HighWaterMark == 0 {
			t.Fatalf("message without broker time or high watermark: %+v", m)
		}
	}
	if len(perPart) != 3 {
		t.Fatalf("read %d partitions, want 3", len(perPart))
	}
	from := map[int]int64{}
	rest := 0
	for part, offs := range perPart {
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: offsets %v, want 0, 1, 2, ... in order", part, offs)
			}
		}
		from[part] = int64(len(offs) / 2)
		rest += len(offs) - len(offs)/2
	}
	r := kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{Brokers: k.Brokers(), Topic: kafkabus.Ratings, Group: "g", From: from})
	tail := read(ctx, t, r, rest)
	for _, m := range tail {
		if m.Offset < from[m.Partition] {
			t.Fatalf("partition %d: read offset %d, asked to start at %d", m.Partition, m.Offset, from[m.Partition])
		}
	}
	if err := r.Commit(ctx, tail...); err != nil {
		t.Fatal(err)
	}
	lag, err := kafkabus.Lag(ctx, k.Brokers(), "g", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	if sum(lag) != 0 {
		t.Errorf("lag after committing everything: %v", lag)
	}
	for part, l := range r.Lag() {
		if l != 0 {
			t.Errorf("reader lag of partition %d: %d, want 0", part, l)
		}
	}
}

// A running reader that commits holds no group membership: the group has
// committed offsets but no members, so a restarted reader never waits for
// a rebalance or a session timeout before it reads.
func TestPartitionReaderHoldsNoMembership(t *testing.T) {
	ctx := testCtx(t)
	k := startWith(ctx, t, 30, 5)
	r := kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{Brokers: k.Brokers(), Topic: kafkabus.Ratings, Group: "g"})
	runCtx, cancel := context.WithCancel(ctx)
	out := make(chan kafkabus.Message)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var got []kafkabus.Message
	for len(got) < 30 {
		got = append(got, <-out)
	}
	if err := r.Commit(ctx, got...); err != nil {
		t.Fatal(err)
	}
	cl := &kafka.Client{Addr: kafka.TCP(k.Brokers()...)}
	resp, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{"g"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups: %+v", resp.Groups)
	}
	if g := resp.Groups[0]; g.Error != nil || len(g.Members) != 0 {
		t.Fatalf("group g while the reader runs: state %q, %d members (error %v); want no members",
			g.GroupState, len(g.Members), g.Error)
	}
	lag, err := kafkabus.Lag(ctx, k.Brokers(), "g", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	if sum(lag) != 0 {
		t.Errorf("lag after committing everything: %v", lag)
	}
}

// A broker that needs longer to answer a fetch than the reader's wait (a
// large first fetch on a loaded machine) used to fail that fetch at every
// retry, and the partition was never read (issue 10: a trainer replaying
// after kills never read partition 0). The reader backs off instead.
func TestPartitionReaderOutlastsASlowBroker(t *testing.T) {
	ctx := testCtx(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, kafkabus.Ratings))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: c.ListenAddrs()})
	const n = 30
	if err := p.Publish(ctx, messages(n, 7)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		time.Sleep(150 * time.Millisecond) // then kfake answers as usual
		return nil, nil, false
	})
	got := read(ctx, t, kafkabus.NewPartitionReader(kafkabus.PartitionReaderConfig{
		Brokers: c.ListenAddrs(), Topic: kafkabus.Ratings, MaxWait: 50 * time.Millisecond}), n)
	if len(got) != n {
		t.Fatalf("read %d of %d", len(got), n)
	}
}
