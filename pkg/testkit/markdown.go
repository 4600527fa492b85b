package testkit

import (
	"os"
	"strings"
	"testing"
)

// CheckMarkdownExamples runs check on every fenced code block of language
// lang in the Markdown file at path whose first line starts with prefix —
// the examples a document shows — so that they keep working. It fails the
// test when there is none, or when check rejects one.
func CheckMarkdownExamples(tb testing.TB, path, lang, prefix string, check func(block string) error) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	found := 0
	var block []string
	in := false
	for line := range strings.Lines(string(b)) {
		switch trimmed := strings.TrimSpace(line); {
		case !in && trimmed == "```"+lang:
			in, block = true, nil
		case in && trimmed == "```":
			in = false
			if len(block) > 0 && strings.HasPrefix(block[0], prefix) {
				found++
				if err := check(strings.Join(block, "")); err != nil {
					tb.Errorf("%s: example %d starting %q: %v", path, found, prefix, err)
				}
			}
		case in:
			block = append(block, line)
		}
	}
	if found == 0 {
		tb.Errorf("%s shows no %s example starting %q", path, lang, prefix)
	}
}
