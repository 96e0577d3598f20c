package api

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"addr", func(c *Config) { c.Addr = "" }, "addr"},
		{"body limit", func(c *Config) { c.BodyLimit = 10 }, "body limit"},
		{"top_k", func(c *Config) { c.DefaultTopK = 0 }, "default top_k"},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown timeout"},
		{"backoff", func(c *Config) { c.RetryBackoff = -time.Second }, "retry backoff"},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
			if _, err := New(c, Deps{}); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestConfigFlagsAndEnv(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"-api.addr", ":9000", "-api.default-top-k", "20"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_URL", "nats://elsewhere:4222")
	t.Setenv("API_BODY_LIMIT", "4096")
	if err := c.FromEnv(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.DefaultTopK != 20 || c.NATSURL != "nats://elsewhere:4222" || c.BodyLimit != 4096 {
		t.Fatalf("config %+v", c)
	}
	t.Setenv("API_DEFAULT_TOP_K", "many")
	if err := c.FromEnv(); err == nil || !strings.Contains(err.Error(), "API_DEFAULT_TOP_K") {
		t.Fatalf("bad env value: %v, want an error naming API_DEFAULT_TOP_K", err)
	}
}
