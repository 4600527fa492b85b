package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/feedloop/feedloop/services/scoring/internal/sentiment"
)

func TestEvaluateBothFormats(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "zh.csv")
	tsvPath := filepath.Join(dir, "en.txt")
	os.WriteFile(csvPath, []byte("label,review\n1,\"服务非常好,很满意\"\n0,房间很脏\n0,包裹\n"), 0o644)
	os.WriteFile(tsvPath, []byte("Great phone, works great.\t1\nIt broke after a day.\t0\n\nnothing here\t1\n"), 0o644)
	s, err := sentiment.New()
	if err != nil {
		t.Fatal(err)
	}
	zh, err := evaluate(csvPath, s)
	if err != nil {
		t.Fatal(err)
	}
	if zh != (sentiment.Tally{Pos: 1, PosRight: 1, Neg: 2, NegRight: 1}) {
		t.Errorf("csv tally = %+v", zh)
	}
	en, err := evaluate(tsvPath, s)
	if err != nil {
		t.Fatal(err)
	}
	if en != (sentiment.Tally{Pos: 2, PosRight: 1, Neg: 1, NegRight: 1}) {
		t.Errorf("tsv tally = %+v", en)
	}
	zh.Add(en)
	// positives 2 of 3, negatives 2 of 3; 4 of 6 right.
	if got, want := zh.String(), "balanced_accuracy=0.667 accuracy=0.667 n=6"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if _, err := sentiment.ReadLabelled(filepath.Join(dir, "missing")); err == nil {
		t.Error("read of a missing file succeeded")
	}
	os.WriteFile(tsvPath, []byte("no label here\n"), 0o644)
	if _, err := sentiment.ReadLabelled(tsvPath); err == nil {
		t.Error("a line without a label was accepted")
	}
}
