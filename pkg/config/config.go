// Package config reads settings from environment variables. Every setting has
// a documented default; a value that does not parse is collected, not ignored,
// so start-up fails with one message listing every bad setting.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env reads typed settings from a lookup function (os.LookupEnv in services,
// a map in tests) and remembers every parse error.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// FromOS reads the process environment.
func FromOS() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads a fixed set of variables; for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// String returns the variable's value, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.lookup(name); ok && v != "" {
		return v
	}
	return def
}

// Switch returns the variable's value, def when it is unset; unlike String,
// a variable set to empty gives "" — for a setting that empty turns off.
func (e *Env) Switch(name, def string) string {
	if v, ok := e.lookup(name); ok {
		return v
	}
	return def
}

// Int returns the variable as an integer.
func (e *Env) Int(name string, def int) int {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.Fail(name, "must be an integer, got %q", v)
		return def
	}
	return n
}

// Float returns the variable as a floating-point number.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.Fail(name, "must be a number, got %q", v)
		return def
	}
	return f
}

// Duration returns the variable as a Go duration ("90s", "24h").
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.Fail(name, "must be a duration like 30s or 24h, got %q", v)
		return def
	}
	return d
}

// Bool returns the variable as a boolean ("true", "1", "false", "0").
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.lookup(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

// Fail records a problem with a variable, e.g. a value out of range.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(e.errs...))
}
