package sentiment

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHeldOutDomains scores sentences written for feedloop in domains the
// lexicons were not checked against: restaurants, delivery, customer service,
// hotels and products, in English and Chinese (testdata/heldout_*.tsv).
func TestHeldOutDomains(t *testing.T) {
	s := scorer(t)
	for _, name := range []string{"heldout_en.tsv", "heldout_zh.tsv"} {
		rows, err := ReadLabelled(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		got := s.Evaluate(rows)
		t.Logf("%s: %s", name, got)
		if got.Pos+got.Neg < 30 {
			t.Errorf("%s: only %d sentences, want at least 30", name, got.Pos+got.Neg)
		}
		if got.Accuracy() < 0.85 {
			t.Errorf("%s: %s, want accuracy ≥ 0.85", name, got)
		}
	}
}

// labelledDir holds the shared labelled review sets (see its README.md),
// beside the repository; a user's clone does not have it.
const labelledDir = "../../../../../shared/data/sentiment"

// TestLabelledSets checks the scorer on real labelled reviews: ChnSentiCorp
// hotel reviews and UCI Amazon product-review sentences.
func TestLabelledSets(t *testing.T) {
	if _, err := os.Stat(labelledDir); err != nil {
		t.Skipf("labelled review sets not available (%s): %v", labelledDir, err)
	}
	s := scorer(t)
	for _, name := range []string{"ChnSentiCorp_htl_all.csv", "amazon_cells_labelled.txt"} {
		t.Run(name, func(t *testing.T) {
			rows, err := ReadLabelled(filepath.Join(labelledDir, name))
			if err != nil {
				t.Fatal(err)
			}
			got := s.Evaluate(rows)
			t.Logf("%s", got)
			if got.BalancedAccuracy() < 0.80 {
				t.Errorf("%s, want balanced accuracy ≥ 0.80", got)
			}
		})
	}
}
