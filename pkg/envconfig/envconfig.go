// Package envconfig holds what every SwipeFlix service's Config does the
// same way: environment variables override settings (Reader), a list
// setting is a comma-separated flag (ListVar), and Validate names each
// wrong setting (Problems).
//
// An unset or empty variable keeps the value already there (the default,
// or what a flag set), and a malformed one is an error that names the
// variable and its value. Errors are collected, so one run reports every
// bad variable or setting at once.
package envconfig

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reader reads variables through getenv and collects the errors.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// New returns a Reader over getenv (os.Getenv in a main, a map in tests).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Err is every malformed variable read so far, joined; nil when none.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Func calls parse with the value of name when it is set, and records
// parse's error under the variable's name.
func (r *Reader) Func(name string, parse func(string) error) {
	v := r.getenv(name)
	if v == "" {
		return
	}
	if err := parse(v); err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, v, err))
	}
}

// String sets *dst to name's value when it is set.
func (r *Reader) String(name string, dst *string) {
	if v := r.getenv(name); v != "" {
		*dst = v
	}
}

// List sets *dst to name's comma-separated items, blanks dropped.
func (r *Reader) List(name string, dst *[]string) {
	if v := r.getenv(name); v != "" {
		*dst = SplitList(v)
	}
}

// parsed sets *dst to parse(name's value); a value parse refuses is an
// error saying what was wanted.
func parsed[T any](r *Reader, name string, dst *T, parse func(string) (T, error), want string) {
	r.Func(name, func(s string) error {
		v, err := parse(s)
		if err != nil {
			return errors.New(want)
		}
		*dst = v
		return nil
	})
}

// Int sets *dst to name's integer value.
func (r *Reader) Int(name string, dst *int) { parsed(r, name, dst, strconv.Atoi, "want an integer") }

// IntRange sets *dst to name's integer value, which must be in lo..hi.
func (r *Reader) IntRange(name string, dst *int, lo, hi int) {
	parsed(r, name, dst, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err == nil && (n < lo || n > hi) {
			err = errors.New("out of range")
		}
		return n, err
	}, fmt.Sprintf("want an integer from %d to %d", lo, hi))
}

// Int64 sets *dst to name's integer value.
func (r *Reader) Int64(name string, dst *int64) {
	parsed(r, name, dst, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }, "want an integer")
}

// Float sets *dst to name's numeric value.
func (r *Reader) Float(name string, dst *float64) {
	parsed(r, name, dst, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, "want a number")
}

// Bool sets *dst to name's value: 1, t, true, 0, f, false (any case).
func (r *Reader) Bool(name string, dst *bool) {
	parsed(r, name, dst, strconv.ParseBool, "want true or false")
}

// Duration sets *dst to name's duration, in time.ParseDuration's syntax.
func (r *Reader) Duration(name string, dst *time.Duration) {
	parsed(r, name, dst, time.ParseDuration, "want a duration such as 500ms, 30s or 10m")
}

// Time sets *dst to name's RFC 3339 time.
func (r *Reader) Time(name string, dst *time.Time) {
	parsed(r, name, dst, func(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) },
		"want an RFC 3339 time such as 2026-01-02T15:04:05Z")
}

// SplitList splits a comma-separated list, trimming spaces and dropping
// blank items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ListVar defines a flag on fs that sets *dst to a comma-separated list;
// the usage line shows *dst as the default.
func ListVar(fs *flag.FlagSet, dst *[]string, name, usage string) {
	fs.Func(name, usage+" (default "+strings.Join(*dst, ",")+")", func(s string) error {
		*dst = SplitList(s)
		return nil
	})
}

// Problems collects what is wrong with a configuration, each problem
// naming its setting, for a Validate method.
type Problems struct {
	errs []error
}

// Add records that setting is wrong; format and args (fmt.Errorf's, so %w
// wraps) say how.
func (p *Problems) Add(setting, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{setting}, args...)...))
}

// Err is every problem, joined; nil when there is none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }
