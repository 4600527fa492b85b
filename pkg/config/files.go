package config

import (
	"errors"
	"io"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML reads one YAML document from r into v and refuses fields v
// does not have, so a misspelt setting in a rule or configuration file
// fails start-up instead of being ignored. An empty document is io.EOF.
func DecodeYAML(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	return dec.Decode(v)
}

// File loads the file the variable name points to with parse (which names
// the file in its errors), or returns builtin() when the variable is unset.
// A file that cannot be read or parsed is reported as a bad value of name,
// with the other bad settings.
func File[T any](e *Env, name string, parse func(r io.Reader, name string) (T, error), builtin func() (T, error)) T {
	var v T
	var err error
	if path := e.String(name, ""); path == "" {
		v, err = builtin()
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			v, err = parse(f, path)
			f.Close()
		}
	}
	if err != nil {
		e.Fail(name, "%v", err)
	}
	return v
}

var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// CheckName checks the name of something a file declares (a tier, a rule,
// a receiver) that also appears in Redis keys, subjects and metrics.
func CheckName(n string) error {
	if !name.MatchString(n) {
		return errors.New("use lower-case letters, digits, - and _ (at most 64)")
	}
	return nil
}
