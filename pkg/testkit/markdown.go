package testkit

import (
	"os"
	"strings"
	"testing"
)

// MarkdownBlocks returns the fenced code blocks of language lang in the
// Markdown file at path whose first line starts with prefix: the examples a
// document shows, for a test to check they still work.
func MarkdownBlocks(tb testing.TB, path, lang, prefix string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var blocks []string
	var block []string
	in := false
	for line := range strings.Lines(string(b)) {
		switch trimmed := strings.TrimSpace(line); {
		case !in && trimmed == "```"+lang:
			in, block = true, nil
		case in && trimmed == "```":
			in = false
			if len(block) > 0 && strings.HasPrefix(block[0], prefix) {
				blocks = append(blocks, strings.Join(block, ""))
			}
		case in:
			block = append(block, line)
		}
	}
	return blocks
}
