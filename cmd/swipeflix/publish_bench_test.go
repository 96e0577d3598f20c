package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded"
)

// BenchmarkPublish publishes a generated ratings file through the path of
// `swipeflix publish` into the embedded broker of `make run` (logs on disk),
// both in this process, so a CPU profile shows the publisher's and the
// broker's share. It reports events/s:
//
//	go test -run '^$' -bench Publish -benchtime 3x -cpuprofile cpu.out ./cmd/swipeflix
func BenchmarkPublish(b *testing.B) {
	const n = 200_000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := b.TempDir()
	g, err := genSpec{Ratings: n, Seed: 1}.shape()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := generateDir(ctx, g, dir, io.Discard, true); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "ratings.csv")
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		k, err := embedded.StartKafka(ctx, embedded.KafkaConfig{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		pub := newPublisher(k.Brokers(), 0)
		b.StartTimer()
		start := time.Now()
		err = pub.dataset(ctx, file, "bench")
		if err == nil {
			err = pub.flush(ctx)
		}
		took += time.Since(start)
		b.StopTimer()
		pub.close()
		k.Close()
		if err != nil {
			b.Fatal(err)
		}
		if pub.sent != n {
			b.Fatalf("published %d of %d", pub.sent, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "events/s")
}
