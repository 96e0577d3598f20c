//go:build race

package drift

// raceEnabled skips the statistical power measurements under the race
// detector (minutes there): make test runs them in its second pass,
// without -race.
const raceEnabled = true
