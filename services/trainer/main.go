// Command trainer runs the SwipeFlix trainer alone, built by the same
// module graph as the swipeflix binary's -target trainer. Settings are
// flags or environment variables (TRAINER_ADDR, KAFKA_BROKERS, NATS_URL,
// DATABASE_URL, ...; -h lists them); SWIPEFLIX_LOG_LEVEL sets the log level.
package main

import (
	"github.com/swipeflix/swipeflix/pkg/svcmain"
	"github.com/swipeflix/swipeflix/services/trainer/trainer"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { svcmain.Main(trainer.Name, version, trainer.Standalone) }
