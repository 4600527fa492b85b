package rules

import (
	"strings"
	"testing"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The README's recovery-rule examples load.
func TestREADMEExamples(t *testing.T) {
	testkit.CheckMarkdownExamples(t, "../../../../README.md", "yaml", "rules:", func(b string) error {
		_, err := Load(strings.NewReader(b), "README.md")
		return err
	})
}
