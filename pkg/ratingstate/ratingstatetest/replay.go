// Package ratingstatetest holds what the tests of the rating state's users
// share: the state an uninterrupted consumer of a stream ends with.
package ratingstatetest

import (
	"testing"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
)

// Replay applies every event of msgs that decodes and carries a signal
// under the default weights once, in order: the state an uninterrupted
// trainer ends with. Messages that do not decode are passed over, as the
// trainer dead-letters them.
func Replay(t testing.TB, msgs []kafkabus.Message) *ratingstate.State {
	t.Helper()
	s := ratingstate.New()
	w := events.DefaultWeights()
	for _, m := range msgs {
		e, err := events.Decode(m.Value)
		if err != nil {
			continue
		}
		if v, ok := w.Signal(&e); ok {
			if _, err := s.Update(ratingstate.Event{User: e.UserID, Movie: e.MovieID, Value: float32(v),
				TS: e.TS.UnixNano(), EventID: e.EventID, Partition: -1, Offset: -1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}
