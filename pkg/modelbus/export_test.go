package modelbus

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NewWithRequestTimeout is New with JetStream's default request timeout
// set to d.
func NewWithRequestTimeout(ctx context.Context, nc *nats.Conn, log *slog.Logger, d time.Duration) (*Bus, error) {
	return newBus(ctx, nc, log, jetstream.WithDefaultTimeout(d))
}

// ReadSnapshot is readSnapshot, for its table test.
var ReadSnapshot = readSnapshot
