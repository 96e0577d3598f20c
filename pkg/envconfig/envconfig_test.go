package envconfig_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
)

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

func TestProblemsRequire(t *testing.T) {
	var p envconfig.Problems
	p.Require("addr", ":8")
	p.RequireSome("brokers", []string{"b:9092"})
	if err := p.Err(); err != nil {
		t.Fatalf("set values: %v", err)
	}
	p.Require("addr", "")
	p.RequireSome("brokers", nil)
	err := p.Err()
	for _, want := range []string{"addr: required", "brokers: at least one is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}
