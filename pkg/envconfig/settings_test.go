package envconfig

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestSettingsPrecedence(t *testing.T) {
	env := map[string]string{"X_ADDR": ":9", "X_N": "7", "X_LIST": "a, b,,c", "X_TOKEN": "s3cret", "X_ON": "true"}
	type cfg struct {
		addr, other, token string
		n                  int
		list               []string
		wait               time.Duration
		on, off            bool
	}
	c := cfg{addr: ":8", other: "o", n: 1, wait: time.Second}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	s := NewSettings(fs, func(k string) string { return env[k] })
	s.String(&c.addr, "x.addr", "X_ADDR", "listen address")
	s.String(&c.other, "x.other", "X_OTHER", "unset variable")
	s.Int(&c.n, "x.n", "X_N", "a number")
	s.List(&c.list, "x.list", "X_LIST", "a list")
	s.Duration(&c.wait, "x.wait", "", "flag only")
	s.Secret(&c.token, "X_TOKEN")
	s.Bool(&c.on, "x.on", "X_ON", "from the variable")
	s.Bool(&c.off, "x.off", "", "a bare flag")
	if err := s.Parse([]string{"-x.n", "9", "-x.wait", "3s", "-x.off"}); err != nil {
		t.Fatal(err)
	}
	want := cfg{addr: ":9", other: "o", token: "s3cret", n: 9, list: []string{"a", "b", "c"}, wait: 3 * time.Second, on: true, off: true}
	if c.addr != want.addr || c.other != want.other || c.token != want.token || c.n != want.n ||
		strings.Join(c.list, "|") != "a|b|c" || c.wait != want.wait || !c.on || !c.off {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if fs.Lookup("x.token") != nil {
		t.Error("a secret has a flag")
	}
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	if !strings.Contains(usage.String(), "[$X_ADDR]") || strings.Contains(usage.String(), "s3cret") {
		t.Errorf("usage:\n%s", usage.String())
	}
}

func TestSettingsNamesTheBadVariable(t *testing.T) {
	env := map[string]string{"X_N": "many", "X_WAIT": "soon"}
	var n int
	var wait time.Duration
	s := NewSettings(flag.NewFlagSet("x", flag.ContinueOnError), func(k string) string { return env[k] })
	s.Int(&n, "x.n", "X_N", "a number")
	s.Duration(&wait, "x.wait", "X_WAIT", "a wait")
	err := s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), `X_N="many": want an integer`) || !strings.Contains(err.Error(), `X_WAIT="soon"`) {
		t.Fatalf("got %v, want both variables named", err)
	}
}

// Given tells a setting the command line or the environment set from one
// left at its default, by the name it was declared under.
func TestGiven(t *testing.T) {
	env := map[string]string{"A_FROM_ENV": "x", "B_EMPTY": ""}
	s := NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	var a, b, c, d string
	s.String(&a, "a", "A_FROM_ENV", "")
	s.String(&b, "b", "B_EMPTY", "")
	s.String(&c, "c", "C_UNSET", "")
	s.Secret(&d, "A_FROM_ENV")
	if err := s.Parse([]string{"-c", ""}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "A_FROM_ENV": true} {
		if got := s.Given(name); got != want {
			t.Errorf("Given(%q) = %v, want %v", name, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Given of an undeclared name did not panic")
		}
	}()
	s.Given("nope")
}
