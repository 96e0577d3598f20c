package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/swipeflix/swipeflix/pkg/embedded"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
)

func TestKafkaLogSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()

	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: dir, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic(embedded.RatingsTopic))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 20 {
		key, val := fmt.Sprintf("user-%d", i%5), fmt.Sprintf("event-%d", i)
		want[val] = key
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte(val)}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	cl.Close()
	k.Close()

	k2, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: dir, Partitions: 2})
	if err != nil {
		t.Fatalf("restart on the same dir: %v", err)
	}
	defer k2.Close()
	cl2, err := kgo.NewClient(kgo.SeedBrokers(k2.Addr()),
		kgo.ConsumeTopics(embedded.RatingsTopic, embedded.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	got := map[string]string{}
	for len(got) < len(want) {
		fs := cl2.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(got), len(want))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != embedded.RatingsTopic {
				t.Errorf("record on %s", r.Topic)
			}
			got[string(r.Value)] = string(r.Key)
		})
	}
	for v, key := range want {
		if got[v] != key {
			t.Errorf("record %s: key %q after restart, want %q", v, got[v], key)
		}
	}
}

func TestKafkaSeedsTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{Partitions: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	counts := partitionCounts(ctx, t, cl)
	if counts[embedded.RatingsTopic] != 5 || counts[embedded.DLQTopic] != 1 {
		t.Fatalf("partitions = %v, want ratings 5, dlq 1", counts)
	}
}

func TestKafkaFallsBackWhenPortTaken(t *testing.T) {
	addr, taken := takenPort(t)

	k, err := embedded.StartKafka(context.Background(), embedded.KafkaConfig{Port: taken})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if !k.FellBack() {
		t.Error("FellBack() = false with the port taken")
	}
	if k.Addr() == addr {
		t.Errorf("broker reports the taken address %s", k.Addr())
	}
}

func TestNATSJetStreamSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kvPut(ctx, t, n.URL(), "current", "v7")
	n.Close()

	n2, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir})
	if err != nil {
		t.Fatalf("restart on the same dir: %v", err)
	}
	defer n2.Close()
	kv, err := embeddedtest.JetStream(t, n2.URL()).KeyValue(ctx, "T")
	if err != nil {
		t.Fatalf("bucket after restart: %v", err)
	}
	e, err := kv.Get(ctx, "current")
	if err != nil {
		t.Fatalf("key after restart: %v", err)
	}
	if string(e.Value()) != "v7" {
		t.Fatalf("value after restart = %q, want v7", e.Value())
	}
}

func TestNATSFallsBackWhenPortTaken(t *testing.T) {
	_, taken := takenPort(t)

	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir(), Port: taken})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if !n.FellBack() {
		t.Error("FellBack() = false with the port taken")
	}
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", n.URL(), err)
	}
	nc.Close()
}

func TestNATSRequiresStoreDir(t *testing.T) {
	if _, err := embedded.StartNATS(embedded.NATSConfig{}); err == nil {
		t.Fatal("StartNATS without StoreDir succeeded")
	}
}

func kvPut(ctx context.Context, t *testing.T, url, key, val string) {
	t.Helper()
	js := embeddedtest.JetStream(t, url)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "T", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, key, []byte(val)); err != nil {
		t.Fatal(err)
	}
}

func partitionCounts(ctx context.Context, t *testing.T, cl *kgo.Client) map[string]int {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tp := range resp.Topics {
		if tp.Topic != nil {
			out[*tp.Topic] = len(tp.Partitions)
		}
	}
	return out
}

// With a logger, both brokers report through it.
func TestBrokersLogThroughSlog(t *testing.T) {
	var buf embeddedtest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	k, err := embedded.StartKafka(context.Background(), embedded.KafkaConfig{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	out := buf.String()
	for _, want := range []string{"msg=nats", "msg=kfake"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s lines in the log:\n%.2000s", want, out)
		}
	}
}

// takenPort listens on a free port until the test ends and returns its
// address and number.
func takenPort(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), ln.Addr().(*net.TCPAddr).Port
}
