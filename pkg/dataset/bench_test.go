package dataset

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadRatings reads a generated 1M-line ratings file; the MB/s
// column is the read throughput.
func BenchmarkReadRatings(b *testing.B) {
	for _, layout := range []Layout{ML100K, CSV, Dat} {
		b.Run(string(layout), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "ratings")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := Generate(SizedConfig(1_000_000, 1)).WriteRatings(f, layout); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := ReadRatings(path, func(Rating) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != 1_000_000 {
					b.Fatalf("read %d ratings", n)
				}
			}
		})
	}
}

// BenchmarkGenerate measures the synthetic stream (written to io.Discard in
// the CSV layout) at 100k ratings.
func BenchmarkGenerate(b *testing.B) {
	s := Generate(SizedConfig(100_000, 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteRatings(io.Discard, CSV); err != nil {
			b.Fatal(err)
		}
	}
}
