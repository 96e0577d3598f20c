package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultNATSPort is the port the embedded NATS server tries first.
const DefaultNATSPort = 4222

// NATSConfig configures the embedded NATS server.
type NATSConfig struct {
	// StoreDir is the JetStream file store (object store, KV, streams).
	// Required: JetStream state must survive a restart.
	StoreDir string
	// Port is tried first; when it is taken a free port is used instead.
	// 0 means a free port straight away.
	Port int
	// Logger receives the server's notices and errors; nil discards them.
	Logger *slog.Logger
}

// NATS is a running in-process NATS server with JetStream enabled.
type NATS struct {
	srv      *server.Server
	fellBack bool
}

// StartNATS starts the server and waits until it accepts connections.
func StartNATS(cfg NATSConfig) (*NATS, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: StoreDir is required")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded nats: create store dir: %w", err)
	}
	n := &NATS{}
	port := server.RANDOM_PORT
	if cfg.Port != 0 {
		if portFree(cfg.Port) {
			port = cfg.Port
		} else {
			n.fellBack = true
		}
	}
	opts := &server.Options{
		ServerName: "swipeflix-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: new server: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(natsLogger{cfg.Logger}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready for connections after 10s")
	}
	n.srv = srv
	return n, nil
}

// URL is the client URL, for NATS_URL.
func (n *NATS) URL() string { return n.srv.ClientURL() }

// Clients is the number of client connections open now.
func (n *NATS) Clients() int { return n.srv.NumClients() }

// FellBack reports whether the requested port was taken and a free one used.
func (n *NATS) FellBack() bool { return n.fellBack }

// Close shuts the server down and waits until it has stopped.
func (n *NATS) Close() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// portFree probes the port. Another process may take it before the server
// binds; the server then fails to start and the caller sees the error.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// natsLogger forwards the server's log lines to slog.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelDebug, format, v) }
func (n natsLogger) Warnf(format string, v ...any)   { n.log(slog.LevelWarn, format, v) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Errorf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n natsLogger) Debugf(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }
func (n natsLogger) Tracef(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }

func (n natsLogger) log(level slog.Level, format string, v []any) {
	n.l.Log(context.Background(), level, "nats", "text", fmt.Sprintf(format, v...))
}
