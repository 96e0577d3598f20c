// Package endpoints is the file through which `make run` tells the client
// commands (publish, watch, models) where it put everything: the brokers it
// started (on a free port when the default one was taken) and the services'
// addresses. A client reads its setting from its flag, else its variable,
// else this file, else the default.
package endpoints

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// File is the endpoints file's name in the data directory.
const File = "endpoints.json"

// Endpoints are the addresses one process chose. Empty fields are not
// served by it.
type Endpoints struct {
	KafkaBrokers []string `json:"kafka_brokers,omitempty"`
	NATSURL      string   `json:"nats_url,omitempty"`
	// Service base URLs, such as http://127.0.0.1:8000.
	API     string `json:"api,omitempty"`
	Ingest  string `json:"ingest,omitempty"`
	Trainer string `json:"trainer,omitempty"`
	Drift   string `json:"drift,omitempty"`
}

// Path is the endpoints file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, File) }

// Write replaces the endpoints file of dataDir (write, then rename).
func Write(dataDir string, e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	tmp := Path(dataDir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	if err := os.Rename(tmp, Path(dataDir)); err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	return nil
}

// Read reads the endpoints file of dataDir; a missing file is no error and
// no endpoints.
func Read(dataDir string) (Endpoints, error) {
	b, err := os.ReadFile(Path(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return Endpoints{}, nil
	}
	if err != nil {
		return Endpoints{}, fmt.Errorf("read endpoints: %w", err)
	}
	var e Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoints{}, fmt.Errorf("read endpoints %s: %w", Path(dataDir), err)
	}
	return e, nil
}

// URL turns a listen address (":8000", "0.0.0.0:8000", "[::]:8000",
// "host:8000") into a base URL a local client can dial.
func URL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Pick returns the first non-empty value: a flag's, a variable's, the
// endpoints file's, the default.
func Pick(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
