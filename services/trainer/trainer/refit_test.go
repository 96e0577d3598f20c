package trainer

import (
	"testing"
	"time"
)

// While behind, an automatic refit starts only when its model would serve
// at least twice as long as it takes before the refit after the catch-up
// replaces it; its time is the last refit's scaled to the pairs.
func TestRefitBeforeCaughtUp(t *testing.T) {
	for _, c := range []struct {
		name           string
		left, lastTook time.Duration
		lastLen, n     int
		want           bool
	}{
		{"no refit yet", time.Minute, 0, 0, 1000, true},
		{"cheap refit, long catch-up", time.Hour, 10 * time.Second, 1_000_000, 1_000_000, true},
		{"the next refit outlasts the catch-up", 10 * time.Minute, 20 * time.Second, 7_000, 2_000_000, false},
		{"scaled to the pairs", 10 * time.Minute, time.Minute, 1_000_000, 4_000_000, false},
		{"just enough", 3 * time.Minute, time.Minute, 1_000_000, 1_000_000, true},
	} {
		if got := refitBeforeCaughtUp(c.left, c.lastTook, c.lastLen, c.n); got != c.want {
			t.Errorf("%s: refitBeforeCaughtUp(%s, %s, %d, %d) = %v, want %v", c.name, c.left, c.lastTook, c.lastLen, c.n, got, c.want)
		}
	}
	if got := catchUpLeft(map[int]int64{0: 600, 1: 400}, 1000, 100); got != 20*time.Second {
		t.Errorf("catchUpLeft = %s, want 20s", got)
	}
	if got := catchUpLeft(map[int]int64{0: 600}, 0, 0); got < 24*time.Hour {
		t.Errorf("catchUpLeft at an unknown rate = %s, want a long time", got)
	}
}
