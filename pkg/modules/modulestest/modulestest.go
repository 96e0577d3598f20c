// Package modulestest helps tests that run a module graph from its
// settings, as the service mains do.
package modulestest

import "testing"

// Isolate keeps a test's run off the repository and the default ports: its
// data in a temporary folder, embedded brokers on free ports.
func Isolate(t testing.TB) {
	t.Helper()
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	t.Setenv("SWIPEFLIX_KAFKA_PORT", "0")
	t.Setenv("SWIPEFLIX_NATS_PORT", "0")
}
