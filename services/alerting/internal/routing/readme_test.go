package routing

import (
	"strings"
	"testing"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The README's routing examples load.
func TestREADMEExamples(t *testing.T) {
	testkit.CheckMarkdownExamples(t, "../../../../README.md", "yaml", "receivers:", func(b string) error {
		_, err := Load(strings.NewReader(b), "README.md")
		return err
	})
}
