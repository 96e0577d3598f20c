//go:build !race

package deck_test

const raceEnabled = false
