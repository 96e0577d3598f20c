package kafkabus_test

import (
	"fmt"
	"testing"

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
