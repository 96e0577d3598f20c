//go:build race

package deck_test

// raceEnabled skips the real-data measurements under the race detector:
// make test runs them in its second pass, without -race.
const raceEnabled = true
