// Command ingest runs the SwipeFlix ingest service alone, built by the same
// module graph as the swipeflix binary's -target ingest. Settings are flags
// or environment variables (INGEST_ADDR, KAFKA_BROKERS,
// SWIPEFLIX_INGEST_TOKENS, ...; -h lists them); SWIPEFLIX_LOG_LEVEL sets the
// log level.
package main

import (
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/ingest/ingest"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main(ingest.Name, version, ingest.Standalone) }
