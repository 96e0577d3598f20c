package envconfig_test

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

// settings has one field of each kind the Reader sets.
type settings struct {
	addr     string
	brokers  []string
	n        int
	port     int
	big      int64
	ratio    float64
	on       bool
	every    time.Duration
	from     time.Time
	weighted string
}

func read(env map[string]string, s *settings) error {
	r := envconfig.New(func(k string) string { return env[k] })
	r.String("ADDR", &s.addr)
	r.List("BROKERS", &s.brokers)
	r.Int("N", &s.n)
	r.IntRange("PORT", &s.port, 0, 65535)
	r.Int64("BIG", &s.big)
	r.Float("RATIO", &s.ratio)
	r.Bool("ON", &s.on)
	r.Duration("EVERY", &s.every)
	r.Time("FROM", &s.from)
	r.Func("WEIGHTED", func(v string) error {
		if !strings.Contains(v, "=") {
			return errors.New("want name=value")
		}
		s.weighted = v
		return nil
	})
	return r.Err()
}

func defaults() settings {
	return settings{addr: ":8000", brokers: []string{"k:9092"}, n: 3, port: 9092, big: 1, ratio: 0.5, every: time.Second}
}

func TestUnsetKeepsDefaults(t *testing.T) {
	s := defaults()
	if err := read(map[string]string{"ADDR": ""}, &s); err != nil {
		t.Fatal(err)
	}
	want := defaults()
	if s.addr != want.addr || !slices.Equal(s.brokers, want.brokers) || s.n != want.n || s.port != want.port ||
		s.big != want.big || s.ratio != want.ratio || s.on || s.every != want.every || !s.from.IsZero() {
		t.Errorf("empty environment changed the settings: %+v", s)
	}
}

func TestSetOverrides(t *testing.T) {
	s := defaults()
	err := read(map[string]string{
		"ADDR": ":9", "BROKERS": " a:1, ,b:2,", "N": "-4", "PORT": "0", "BIG": "9000000000", "RATIO": "1e-3",
		"ON": "true", "EVERY": "1m30s", "FROM": "2026-11-27T18:00:00Z", "WEIGHTED": "like=4",
	}, &s)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	if s.addr != ":9" || !slices.Equal(s.brokers, []string{"a:1", "b:2"}) || s.n != -4 || s.port != 0 ||
		s.big != 9000000000 || s.ratio != 0.001 || !s.on || s.every != 90*time.Second || !s.from.Equal(from) ||
		s.weighted != "like=4" {
		t.Errorf("settings = %+v", s)
	}
}

func TestEveryMalformedVariableIsNamed(t *testing.T) {
	bad := map[string]string{
		"N": "three", "PORT": "70000", "BIG": "1.5", "RATIO": "half", "ON": "yes please",
		"EVERY": "10", "FROM": "yesterday", "WEIGHTED": "like",
	}
	s := defaults()
	err := read(bad, &s)
	if err == nil {
		t.Fatal("malformed variables: no error")
	}
	for name, value := range bad {
		if want := name + `="` + value + `"`; !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "from 0 to 65535") {
		t.Errorf("range error does not give the range: %v", err)
	}
	if s.n != 3 || s.port != 9092 || s.every != time.Second {
		t.Errorf("a malformed value changed its setting: %+v", s)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":             nil,
		" , ,":         nil,
		"a":            {"a"},
		" a:1 ,b:2 , ": {"a:1", "b:2"},
	} {
		if got := envconfig.SplitList(in); !slices.Equal(got, want) {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListVar(t *testing.T) {
	brokers := []string{"127.0.0.1:9092"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	envconfig.ListVar(fs, &brokers, "kafka-brokers", "comma-separated Kafka brokers")
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	if !strings.Contains(usage.String(), "comma-separated Kafka brokers (default 127.0.0.1:9092)") {
		t.Errorf("usage does not show the default:\n%s", usage.String())
	}
	if err := fs.Parse([]string{"-kafka-brokers", "a:1, b:2,"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(brokers, []string{"a:1", "b:2"}) {
		t.Errorf("brokers = %q", brokers)
	}
}

func TestProblemsNameEverySetting(t *testing.T) {
	var p envconfig.Problems
	if p.Err() != nil {
		t.Fatalf("no problems: %v", p.Err())
	}
	cause := errors.New("threshold out of range")
	p.Add("addr", "required")
	p.Add("top_k", "must be 1..1000, got %d", 0)
	p.Add("drift", "%w", cause)
	err := p.Err()
	for _, want := range []string{"addr: required", "top_k: must be 1..1000, got 0", "drift: threshold out of range"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("a wrapped cause is lost")
	}
}
