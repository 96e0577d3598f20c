package recommend

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestArraysAsBlocksMatchElementwise: arrays written and read as blocks of
// bytes are the bytes and the numbers (bit for bit, NaN payloads too) that
// the element-by-element little-endian code writes and reads.
func TestArraysAsBlocksMatchElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f32 := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), math.Float32frombits(0x7fc00123), 1e-45}
	f64 := []float64{math.NaN(), math.Inf(-1), math.SmallestNonzeroFloat64}
	i32 := []int32{math.MinInt32, -1, 0, math.MaxInt32}
	i64 := []int64{math.MinInt64, -1, math.MaxInt64}
	for range 3*byteStep/4 + 7 { // more than one step of every type
		f32 = append(f32, math.Float32frombits(rng.Uint32()))
		f64 = append(f64, math.Float64frombits(rng.Uint64()))
		i32 = append(i32, int32(rng.Uint32()))
		i64 = append(i64, int64(rng.Uint64()))
	}
	encode := func(elementwise bool) []byte {
		var b bytes.Buffer
		w := &writer{buf: &b, elementwise: elementwise}
		w.f32s(f32)
		w.f64s(f64)
		w.i32s(i32)
		w.i64s(i64)
		w.f32s(nil)
		return b.Bytes()
	}
	data := encode(true)
	if !bytes.Equal(encode(false), data) {
		t.Fatal("arrays written as blocks differ from the element-by-element bytes")
	}
	if !nativeLittleEndian {
		t.Skip("big-endian machine: arrays move element by element only")
	}
	bits32 := func(v []float32) []uint32 {
		out := make([]uint32, len(v))
		for i, x := range v {
			out[i] = math.Float32bits(x)
		}
		return out
	}
	bits64 := func(v []float64) []uint64 {
		out := make([]uint64, len(v))
		for i, x := range v {
			out[i] = math.Float64bits(x)
		}
		return out
	}
	for _, elementwise := range []bool{true, false} {
		r := &reader{b: data, elementwise: elementwise}
		g32, g64, gi32, gi64, empty := r.f32s(), r.f64s(), r.i32s(), r.i64s(), r.f32s()
		if r.err != nil || len(r.b) != 0 {
			t.Fatalf("elementwise %v: err %v, %d bytes left", elementwise, r.err, len(r.b))
		}
		if !slices.Equal(bits32(g32), bits32(f32)) || !slices.Equal(bits64(g64), bits64(f64)) ||
			!slices.Equal(gi32, i32) || !slices.Equal(gi64, i64) || len(empty) != 0 {
			t.Fatalf("elementwise %v: read arrays differ from those written", elementwise)
		}
	}
	// A length beyond the bytes left fails before anything is allocated.
	r := &reader{b: data[:100]}
	if r.f32s(); r.err == nil {
		t.Fatal("a truncated array read without error")
	}
}

// TestSnapshotBufferSizedOnce: the encoder's estimate covers the whole
// snapshot, so its buffer is allocated once, at the estimate's size
// (growing it by doubling allocated, cleared and copied about twice the
// snapshot).
func TestSnapshotBufferSizedOnce(t *testing.T) {
	m, err := Fit(world(3000, 300, 1), Config{Factors: 8, RatingFactors: 8})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hint := m.snapshotSizeHint()
	if len(data) < 1<<20 || hint < len(data) || hint > len(data)*5/4 {
		t.Fatalf("snapshot of %d bytes, estimated %d: want an estimate of at least the size, at most a quarter more, of a snapshot over a MiB", len(data), hint)
	}
	// A large allocation is rounded up to whole pages, no more.
	if cap(data) < hint || cap(data) > hint+64<<10 {
		t.Fatalf("snapshot of %d bytes in a buffer of %d, estimated %d: not the one buffer of the estimate's size", len(data), cap(data), hint)
	}
}
