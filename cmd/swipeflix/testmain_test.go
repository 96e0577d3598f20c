package main

import (
	"os"
	"testing"
)

// runMainEnv makes the test binary run main() instead of the tests, so tests
// can start it as a real swipeflix process (a trainer to kill, a broker to
// freeze, the children of bench-scale).
const runMainEnv = "SWIPEFLIX_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
