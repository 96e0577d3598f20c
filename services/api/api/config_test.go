package api

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
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

func TestConfigSettings(t *testing.T) {
	env := map[string]string{"API_BODY_LIMIT": "4096", "API_CACHE_ENTRIES": "0"}
	c := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("api", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse([]string{"-api.addr", ":9000", "-api.default-top-k", "20"}); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.DefaultTopK != 20 || c.BodyLimit != 4096 || c.CacheEntries != 0 {
		t.Fatalf("config %+v", c)
	}
	env["API_DEFAULT_TOP_K"] = "many"
	c = DefaultConfig()
	s = envconfig.NewSettings(flag.NewFlagSet("api", flag.ContinueOnError), func(k string) string { return env[k] })
	c.RegisterSettings(s)
	if err := s.Parse(nil); err == nil || !strings.Contains(err.Error(), "API_DEFAULT_TOP_K") {
		t.Fatalf("bad env value: %v, want an error naming API_DEFAULT_TOP_K", err)
	}
}
