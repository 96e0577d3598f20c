// Command api runs the SwipeFlix api service alone, built by the same
// module graph as the swipeflix binary's -target api. Settings are flags or
// environment variables (API_ADDR, NATS_URL, ...; -h lists them);
// SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/api/api"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main(api.Name, version, api.Standalone) }
