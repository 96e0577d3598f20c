// Package envconfig holds what every SwipeFlix service's Config does the
// same way: each setting is declared once (Settings), as a flag with its
// environment variable, default and help, where a flag beats the
// environment and the environment beats the default; a list setting is
// comma-separated (SplitList); and Validate names each wrong setting
// (Problems).
//
// An unset or empty variable keeps the default, and a malformed one is an
// error that names the variable and its value. Errors are collected, so one
// run reports every bad variable or setting at once.
package envconfig

import (
	"errors"
	"fmt"
	"strings"
)

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

// Require records "setting: required" when value is empty.
func (p *Problems) Require(setting, value string) {
	if value == "" {
		p.Add(setting, "required")
	}
}

// RequireSome records "setting: at least one is required" when list is
// empty.
func (p *Problems) RequireSome(setting string, list []string) {
	if len(list) == 0 {
		p.Add(setting, "at least one is required")
	}
}

// Err is every problem, joined; nil when there is none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }
