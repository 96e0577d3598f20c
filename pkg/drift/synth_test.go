package drift

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// TestSynthShifts checks that the synthetic shifts are what the detection
// table says they are, on 50,000 seeded events per window.
func TestSynthShifts(t *testing.T) {
	s := NewSynth(rand.New(rand.NewPCG(11, 11)), 1000, 500, time.Unix(0, 0))
	const n = 50000
	base := s.Events(n, Shift{})
	measure := func(evs []events.Event) (meanRating, actionShare, newShare float64) {
		var sum, nr float64
		for _, e := range evs {
			if e.Rating != nil {
				sum += *e.Rating
				nr++
			}
			if s.Genres(e.MovieID)[0] == "Action" {
				actionShare++
			}
			if strings.HasPrefix(e.UserID, "new") {
				newShare++
			}
		}
		return sum / nr, actionShare / float64(len(evs)), newShare / float64(len(evs))
	}
	m0, a0, n0 := measure(base)
	if n0 != 0 {
		t.Errorf("stationary stream has %v new-user events", n0)
	}
	if want := s.GenreShare("Action"); a0 < want-0.01 || a0 > want+0.01 {
		t.Errorf("Action share %v, expected %v", a0, want)
	}
	m1, _, _ := measure(s.Events(n, Shift{RatingDelta: -0.53}))
	// Rounding to half steps and clipping at 0.5 and 5 shrink the latent
	// shift: -0.53 moves the observed mean by about -0.50.
	if d := m1 - m0; d > -0.48 || d < -0.52 {
		t.Errorf("rating mean moved by %v, want -0.50 +- 0.02", d)
	}
	_, a2, _ := measure(s.Events(n, Shift{BoostGenre: "Action", BoostFactor: 2}))
	if r := a2 / a0; r < 1.9 || r > 2.1 {
		t.Errorf("Action share x%v, want x2", r)
	}
	_, _, n3 := measure(s.Events(n, Shift{NewUserShare: 0.25}))
	if n3 < 0.23 || n3 > 0.27 {
		t.Errorf("new-user share %v, want 0.25", n3)
	}
	t.Logf("rating mean %.3f -> %.3f; Action share %.3f -> %.3f; new-user share %.3f", m0, m1, a0, a2, n3)
}
