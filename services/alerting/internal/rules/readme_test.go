package rules

import (
	"strings"
	"testing"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The README's recovery-rule example loads.
func TestREADMEExample(t *testing.T) {
	blocks := testkit.MarkdownBlocks(t, "../../../../README.md", "yaml", "rules:")
	if len(blocks) == 0 {
		t.Fatal("the README shows no recovery-rule file")
	}
	for _, b := range blocks {
		if _, err := Load(strings.NewReader(b), "README.md"); err != nil {
			t.Errorf("README example: %v\n%s", err, b)
		}
	}
}
