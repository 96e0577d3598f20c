package trainer

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// The refit path tunes on the state's columns with the events' times (a
// split by time) and without them (a random split), publishes a snapshot
// that decodes either way, and the manifest's report names the split.
func TestTuneCandidateSplitsByEventTime(t *testing.T) {
	cols := timedColumns(t)
	base := recommend.Config{Seed: 1, Workers: 1}
	untimed := cols
	untimed.TS = nil
	for _, c := range []struct {
		name  string
		cols  ratingstate.Columns
		split recommend.ValidationSplit
	}{
		{"with times", cols, recommend.SplitUserTime},
		{"without times", untimed, recommend.SplitRandom},
	} {
		cand, err := tuneCandidate(c.cols, nil, base, nil, 3, time.Now)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cand.tune == nil || cand.tune.Split != c.split || cand.tune.SplitReason == "" {
			t.Fatalf("%s: report %+v, want the %s split with its reason", c.name, cand.tune, c.split)
		}
		m, err := recommend.Decode(cand.snapshot)
		if err != nil || m.Version != 3 {
			t.Fatalf("%s: snapshot does not decode: %v", c.name, err)
		}
		man := cand.manifest(3, time.Now(), nil, "h", base, 0, Gate{}, "test", nil)
		var rep recommend.TuneReport
		if err := json.Unmarshal([]byte(man.Params["tune_report"]), &rep); err != nil || rep.Split != c.split {
			t.Errorf("%s: manifest's report: split %q, %v", c.name, rep.Split, err)
		}
		if !strings.Contains(man.Params["tune_report"], `"validation_split_reason"`) {
			t.Errorf("%s: manifest's report gives no reason for its split", c.name)
		}
	}
}

// The state's columnar copy (20 bytes a pair: a fifth of the trainer's
// live heap at a 10M refit's peak) is garbage once the search has split
// it, not held until the refit ends. The search reads the clock when it
// ends; the test collects garbage then and looks for the columns.
func TestTuneCandidateReleasesTheColumns(t *testing.T) {
	cols := timedColumns(t)
	var freed atomic.Int32
	for _, p := range []*int32{&cols.User[0], &cols.Movie[0]} {
		runtime.AddCleanup(p, func(int) { freed.Add(1) }, 0)
	}
	runtime.AddCleanup(&cols.Value[0], func(int) { freed.Add(1) }, 0)
	runtime.AddCleanup(&cols.TS[0], func(int) { freed.Add(1) }, 0)
	var calls, atSearchEnd int
	now := func() time.Time {
		if calls++; calls == 2 {
			for range 100 {
				if runtime.GC(); freed.Load() == 4 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			atSearchEnd = int(freed.Load())
		}
		return time.Now()
	}
	if _, err := tuneCandidate(cols, nil, recommend.Config{Seed: 1, Workers: 1}, nil, 3, now); err != nil {
		t.Fatal(err)
	}
	if calls < 2 || atSearchEnd != 4 {
		t.Errorf("%d of the 4 columns collectable when the search ended (clock read %d times); want all 4", atSearchEnd, calls)
	}
}

// timedColumns is the columnar export of a small state whose every event
// has a time.
func timedColumns(t *testing.T) ratingstate.Columns {
	t.Helper()
	st := ratingstate.New()
	n := 0
	for u := range 80 {
		for k := range 12 {
			mv := (u*7 + k*k + 3*k) % 50
			n++
			if _, err := st.Update(ratingstate.Event{User: fmt.Sprintf("u%d", u), Movie: fmt.Sprintf("m%d", mv),
				Value: float32(1 + (u+mv)%5), TS: time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC).UnixNano(),
				EventID: fmt.Sprintf("e%d", n), Partition: -1, Offset: -1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := st.Export()
	defer v.Release()
	return v.Columns()
}
