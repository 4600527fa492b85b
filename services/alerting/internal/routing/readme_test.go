package routing

import (
	"strings"
	"testing"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The README's routing example loads.
func TestREADMEExample(t *testing.T) {
	blocks := testkit.MarkdownBlocks(t, "../../../../README.md", "yaml", "receivers:")
	if len(blocks) == 0 {
		t.Fatal("the README shows no routing file")
	}
	for _, b := range blocks {
		if _, err := Load(strings.NewReader(b), "README.md"); err != nil {
			t.Errorf("README example: %v\n%s", err, b)
		}
	}
}
