package tiers

import (
	"strings"
	"testing"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The README's tier examples load.
func TestREADMEExamples(t *testing.T) {
	testkit.CheckMarkdownExamples(t, "../../../../README.md", "yaml", "tiers:", func(b string) error {
		_, err := Load(strings.NewReader(b), "README.md")
		return err
	})
}
