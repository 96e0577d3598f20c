package envconfig

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Settings declares each setting of a program once: its flag, its
// environment variable, its default and its help. The value comes from the
// flag when it is given, else from the variable when it is set, else it is
// the default, which is whatever the destination holds when the setting is
// declared. A malformed variable is an error naming it (Err, after Parse).
//
// A setting with no flag name is read from its variable only (secrets:
// command lines show up in ps); one with no variable is a flag only.
type Settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
	given  map[string]bool // by flag name (else variable): declared, and whether set
}

// NewSettings declares settings on fs, reading variables through getenv
// (os.Getenv in a main, a map in tests).
func NewSettings(fs *flag.FlagSet, getenv func(string) string) *Settings {
	return &Settings{fs: fs, getenv: getenv, given: map[string]bool{}}
}

// Given reports whether the setting declared under name (its flag name, or
// its variable for one without a flag) was set by the command line or the
// environment rather than left at its default. It panics for a name never
// declared, so a caller cannot silently outlive a rename.
func (s *Settings) Given(name string) bool {
	given, ok := s.given[name]
	if !ok {
		panic("envconfig: no setting named " + name)
	}
	return given
}

// FlagSet is the flag set the settings are declared on.
func (s *Settings) FlagSet() *flag.FlagSet { return s.fs }

// Parse parses args on the flag set, then reports every malformed
// variable read while declaring, joined.
func (s *Settings) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	return s.Err()
}

// Err is every malformed variable read so far, joined; nil when none.
func (s *Settings) Err() error { return errors.Join(s.errs...) }

// value is a flag.Value over a destination with its own parse and format.
type value struct {
	set func(string) error
	get func() string
}

func (v value) Set(s string) error { return v.set(s) }
func (v value) String() string {
	if v.get == nil {
		return ""
	}
	return v.get()
}

// Var declares a setting of any type: set parses a value into the
// destination, get formats the destination for the usage text.
func (s *Settings) Var(name, env, help string, set func(string) error, get func() string) {
	key := name
	if key == "" {
		key = env
	}
	s.given[key] = false
	if env != "" {
		if v := s.getenv(env); v != "" {
			if err := set(v); err != nil {
				s.errs = append(s.errs, fmt.Errorf("%s=%q: %w", env, v, err))
			} else {
				s.given[key] = true
			}
		}
		help += " [$" + env + "]"
	}
	if name != "" {
		s.fs.Var(value{set: func(v string) error {
			if err := set(v); err != nil {
				return err
			}
			s.given[key] = true
			return nil
		}, get: get}, name, help)
	}
}

// String declares a string setting.
func (s *Settings) String(dst *string, name, env, help string) {
	s.Var(name, env, help, func(v string) error { *dst = v; return nil }, func() string { return *dst })
}

// Secret declares a string setting read from its variable only and never
// shown.
func (s *Settings) Secret(dst *string, env string) {
	s.Var("", env, "", func(v string) error { *dst = v; return nil }, nil)
}

// List declares a comma-separated list setting (blanks dropped).
func (s *Settings) List(dst *[]string, name, env, help string) {
	s.Var(name, env, help, func(v string) error { *dst = SplitList(v); return nil },
		func() string { return strings.Join(*dst, ",") })
}

// SecretList declares a comma-separated list read from its variable only.
func (s *Settings) SecretList(dst *[]string, env string) {
	s.Var("", env, "", func(v string) error { *dst = SplitList(v); return nil }, nil)
}

func typed[T any](s *Settings, dst *T, name, env, help string, parse func(string) (T, error), format func(T) string, want string) {
	s.Var(name, env, help, func(v string) error {
		x, err := parse(v)
		if err != nil {
			return errors.New(want)
		}
		*dst = x
		return nil
	}, func() string { return format(*dst) })
}

// Int declares an integer setting.
func (s *Settings) Int(dst *int, name, env, help string) {
	typed(s, dst, name, env, help, strconv.Atoi, strconv.Itoa, "want an integer")
}

// Int64 declares a 64-bit integer setting.
func (s *Settings) Int64(dst *int64, name, env, help string) {
	typed(s, dst, name, env, help, func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) },
		func(x int64) string { return strconv.FormatInt(x, 10) }, "want an integer")
}

// Float declares a floating-point setting.
func (s *Settings) Float(dst *float64, name, env, help string) {
	typed(s, dst, name, env, help, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) },
		func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }, "want a number")
}

// Bool declares a boolean setting (true, false, 1, 0, ...).
func (s *Settings) Bool(dst *bool, name, env, help string) {
	s.Var(name, env, help, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*dst = b
		return nil
	}, func() string { return strconv.FormatBool(*dst) })
	// A bare -name means true, as for flag.Bool.
	if name != "" {
		if f := s.fs.Lookup(name); f != nil {
			f.Value = boolValue{f.Value.(value)}
		}
	}
}

type boolValue struct{ value }

func (boolValue) IsBoolFlag() bool { return true }

// Duration declares a duration setting in time.ParseDuration's syntax.
func (s *Settings) Duration(dst *time.Duration, name, env, help string) {
	typed(s, dst, name, env, help, time.ParseDuration, time.Duration.String, "want a duration such as 500ms, 30s or 10m")
}

// Time declares an RFC 3339 time setting (the zero time shows as empty).
func (s *Settings) Time(dst *time.Time, name, env, help string) {
	typed(s, dst, name, env, help, func(v string) (time.Time, error) { return time.Parse(time.RFC3339, v) },
		func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Format(time.RFC3339)
		}, "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
}
