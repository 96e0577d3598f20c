// Command drift runs the SwipeFlix drift service alone, built by the same
// module graph as the swipeflix binary's -target drift: with the store
// (DATABASE_URL, or the embedded file) for its reports and the catalog for
// genres. Settings are flags or environment variables (DRIFT_ADDR,
// KAFKA_BROKERS, NATS_URL, ...; -h lists them); SWIPEFLIX_LOG_LEVEL sets
// the log level.
package main

import (
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/drift/driftsvc"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main(driftsvc.Name, version, driftsvc.Standalone) }
