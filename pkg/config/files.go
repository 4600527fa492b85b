package config

import (
	"errors"
	"io"
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

var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// CheckName checks the name of something a file declares (a tier, a rule,
// a receiver) that also appears in Redis keys, subjects and metrics.
func CheckName(n string) error {
	if !name.MatchString(n) {
		return errors.New("use lower-case letters, digits, - and _ (at most 64)")
	}
	return nil
}
