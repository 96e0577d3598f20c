package kafkabus_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

func TestEndOffsets(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	end, err := kafkabus.EndOffsets(ctx, k.Brokers(), kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range end {
		if o != 0 {
			t.Errorf("empty topic: partition %d ends at %d", p, o)
		}
	}
	p := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: k.Brokers()})
	defer p.Close()
	var msgs []kafkabus.Message
	for i := range 50 {
		msgs = append(msgs, kafkabus.Message{Key: []byte(fmt.Sprintf("user-%d", i)), Value: []byte("{}")})
	}
	if err := p.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	end, err = kafkabus.EndOffsets(ctx, k.Brokers(), kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, o := range end {
		total += o
	}
	if len(end) < 2 || total != 50 {
		t.Errorf("end offsets %v: want every partition, summing to the 50 messages published", end)
	}
}

// Bounds spans each partition from its first record to EndOffsets, and
// ReadRange reads a stretch of one by offset; past the end it gives up
// with ErrLogEndsEarly.
func TestBoundsAndReadRange(t *testing.T) {
	ctx := testCtx(t)
	k := startWith(ctx, t, 60, 3)
	b, err := kafkabus.Bounds(ctx, k.Brokers(), kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	end, err := kafkabus.EndOffsets(ctx, k.Brokers(), kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	var part int32 = -1
	for q, r := range b {
		if r.First != 0 || r.End != end[q] {
			t.Errorf("partition %d: bounds %+v, want 0..%d", q, r, end[q])
		}
		if r.End >= 3 {
			part = q
		}
	}
	if len(b) != 3 || part < 0 {
		t.Fatalf("bounds %v: want 3 partitions, one with 3 records or more", b)
	}
	var got []int64
	err = kafkabus.ReadRange(ctx, k.Brokers(), kafkabus.Ratings, part, 1, 3, 0, func(off int64, _ []byte) error {
		got = append(got, off)
		return nil
	})
	if err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("read [1, 3) of partition %d: offsets %v, %v", part, got, err)
	}
	err = kafkabus.ReadRange(ctx, k.Brokers(), kafkabus.Ratings, part, b[part].End, b[part].End+1, 200*time.Millisecond,
		func(int64, []byte) error { return nil })
	if !errors.Is(err, kafkabus.ErrLogEndsEarly) {
		t.Errorf("read past the end: %v, want ErrLogEndsEarly", err)
	}
}
