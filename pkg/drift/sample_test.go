package drift

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

func sampleIDs(r *Reference) []string {
	var out []string
	for _, e := range r.sample {
		out = append(out, e.EventID)
	}
	return out
}

// TestSamplerIgnoresOrderAndRepeats: the reference depends on the set of
// events and the seed only. Shuffled (another partitioning, another
// interleaving of partitions) and with every event offered twice into the
// sample, it is the same reference.
func TestSamplerIgnoresOrderAndRepeats(t *testing.T) {
	s := NewSynth(rand.New(rand.NewPCG(4, 4)), 300, 200, time.Unix(0, 0))
	evs := s.Events(5000, Shift{})
	build := func(evs []events.Event) *Reference {
		sm, err := NewSampler(500, 42)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			sm.Add(e)
		}
		return sm.Reference(10)
	}
	a := build(evs)
	shuffled := append([]events.Event(nil), evs...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := build(shuffled)
	if !reflect.DeepEqual(a, b) {
		t.Error("the reference of the shuffled events differs")
	}
	// The sample keeps an event once, however often it is offered (a
	// re-read); the known half's counts are per offer, so the service
	// offers each log position once.
	sm, _ := NewSampler(500, 42)
	for _, e := range evs {
		sm.Add(e)
	}
	for _, e := range a.sample {
		sm.Add(e)
	}
	if got := sampleIDs(sm.Reference(10)); !reflect.DeepEqual(got, sampleIDs(a)) {
		t.Error("offering sampled events again changed the sample")
	}
	if a.Window.Events != 500 || a.Window.Population != 5000 {
		t.Errorf("window %+v, want 500 sampled of 5000", a.Window)
	}
	if c := build(evs[:4000]); reflect.DeepEqual(sampleIDs(c), sampleIDs(a)) {
		t.Error("a fifth fewer events, same sample")
	}
	other := must(NewSampler(500, 43))
	for _, e := range evs {
		other.Add(e)
	}
	if reflect.DeepEqual(sampleIDs(other.Reference(10)), sampleIDs(a)) {
		t.Error("another seed, same sample")
	}
	if _, err := NewSampler(0, 1); err == nil {
		t.Error("NewSampler(0): no error")
	}
	if r := must(NewSampler(3, 1)).Reference(10); r != nil {
		t.Errorf("reference of no events = %+v, want nil", r)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSamplerIsUniform: every event has the same chance to be sampled,
// wherever it is in the stream (the first version's reference was the
// first N events), and the halves split evenly.
func TestSamplerIsUniform(t *testing.T) {
	const n, k, seeds = 10000, 1000, 20
	tenths := make([]int, 10)
	var known, measured int
	for seed := range uint64(seeds) {
		sm, _ := NewSampler(k, seed)
		for i := range n {
			sm.Add(events.Event{EventID: fmt.Sprint("ev-", i), UserID: "u", MovieID: "m", TS: t0})
		}
		r := sm.Reference(10)
		for _, e := range r.sample {
			var i int
			fmt.Sscanf(e.EventID, "ev-%d", &i)
			tenths[i*10/n]++
		}
		measured += len(r.measured)
		known += r.users["u"]
	}
	// Each tenth of the stream holds 1/10 of the 20,000 draws: 2,000, with
	// a binomial sd of about 42; 250 is six of them.
	for i, c := range tenths {
		if c < 1750 || c > 2250 {
			t.Errorf("tenth %d of the stream: %d of %d sampled events, want about 2,000", i, c, k*seeds)
		}
	}
	if share := float64(known) / (n * seeds); share < 0.49 || share > 0.51 {
		t.Errorf("known half holds %.3f of the events, want 0.5", share)
	}
	if share := float64(measured) / (k * seeds); share < 0.47 || share > 0.53 {
		t.Errorf("measuring half holds %.3f of the sample, want 0.5", share)
	}
}
