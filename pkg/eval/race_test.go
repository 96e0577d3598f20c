//go:build race

package eval

// raceEnabled skips the long real-data evaluations under the race detector:
// they exercise no concurrency beyond what the unit tests cover, and `make
// test` runs them in a separate pass without -race.
const raceEnabled = true
