// Package modelbustest gives tests a model to publish on the model bus.
package modelbustest

import (
	"fmt"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Snapshot fits a tiny model (users u0..u7 rating movies m0..m11) stamped
// with version and returns its snapshot.
func Snapshot(tb testing.TB, version int64) []byte {
	tb.Helper()
	var ts recommend.TrainSet
	for u := range 8 {
		for m := range 12 {
			ts.Interactions = append(ts.Interactions, recommend.Interaction{User: fmt.Sprint("u", u), Movie: fmt.Sprint("m", m), Value: float64(1 + (u+m)%5)})
		}
	}
	model, err := recommend.Fit(ts, recommend.Config{Factors: 2, RatingFactors: 2})
	if err != nil {
		tb.Fatal(err)
	}
	model.Version = version
	b, err := model.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
