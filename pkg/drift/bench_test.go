package drift

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkKSExact is the exact p-value at the largest reference that
// still uses K-S by default (1,000 observations a side, 10^6 lattice cells).
func BenchmarkKSExact(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	xs, ys := make([]float64, 1000), make([]float64, 1000)
	for i := range xs {
		xs[i], ys[i] = rng.NormFloat64(), rng.NormFloat64()+0.05
	}
	ref, cur := NumericOf(xs), NumericOf(ys)
	b.ResetTimer()
	for b.Loop() {
		if _, err := KS(ref, cur); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompare is one report: profile a current window against a
// reference (a sample of n of 4n covered events) and run every feature's
// test, at both default regimes.
func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("%d_events", n), func(b *testing.B) {
			s := NewSynth(rand.New(rand.NewPCG(2, 2)), 1000, 500, time.Unix(0, 0))
			cfg := DefaultConfig()
			sm, err := NewSampler(n, 1)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range s.Events(4*n, Shift{}) {
				sm.Add(e)
			}
			ref := sm.Reference(cfg.PopularityBuckets)
			cur := s.Events(n, Shift{})
			b.ResetTimer()
			for b.Loop() {
				if _, err := Compare(cfg, ref, cur, s, time.Unix(0, 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSamplerAdd is the cost of taking one covered event into the
// reference (a restart re-derives the reference from the whole log).
func BenchmarkSamplerAdd(b *testing.B) {
	s := NewSynth(rand.New(rand.NewPCG(3, 3)), 1000, 500, time.Unix(0, 0))
	evs := s.Events(100000, Shift{})
	sm, err := NewSampler(1000, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		sm.Add(evs[i%len(evs)])
		i++
	}
}
