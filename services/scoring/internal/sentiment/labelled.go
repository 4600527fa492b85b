package sentiment

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Labelled is a comment with a human label, for measuring the scorer.
type Labelled struct {
	Text     string
	Positive bool
}

// ReadLabelled reads labelled comments from either CSV with a
// `label,review` header or `text<TAB>label` lines; label 1 is positive,
// 0 negative.
func ReadLabelled(path string) ([]Labelled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, err := br.Peek(13)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if strings.HasPrefix(strings.TrimPrefix(string(head), "\ufeff"), "label,review") {
		return readCSV(path, br)
	}
	return readTSV(path, br)
}

func readCSV(path string, r io.Reader) ([]Labelled, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	records, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Labelled
	for i, rec := range records[1:] {
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s: row %d: want label,review", path, i+2)
		}
		pos, err := label(rec[0])
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i+2, err)
		}
		out = append(out, Labelled{Text: strings.Join(rec[1:], ","), Positive: pos})
	}
	return out, nil
}

func readTSV(path string, r io.Reader) ([]Labelled, error) {
	var out []Labelled
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		i := strings.LastIndexByte(line, '\t')
		if i < 0 {
			return nil, fmt.Errorf("%s: line %d: want text<TAB>label", path, n)
		}
		pos, err := label(line[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		out = append(out, Labelled{Text: line[:i], Positive: pos})
	}
	return out, sc.Err()
}

func label(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("label %q is not 0 or 1", s)
}

// Tally counts right answers per class. A neutral score (0) is wrong for
// either label.
type Tally struct{ Pos, PosRight, Neg, NegRight int }

// Evaluate scores each comment, its language detected from its script as
// for events that do not name one.
func (s *Scorer) Evaluate(rows []Labelled) Tally {
	var t Tally
	for _, r := range rows {
		score := s.Sentiment(r.Text, "").Score
		if r.Positive {
			t.Pos++
			if score > 0 {
				t.PosRight++
			}
		} else {
			t.Neg++
			if score < 0 {
				t.NegRight++
			}
		}
	}
	return t
}

// Add adds another tally's counts.
func (t *Tally) Add(o Tally) {
	t.Pos, t.PosRight, t.Neg, t.NegRight = t.Pos+o.Pos, t.PosRight+o.PosRight, t.Neg+o.Neg, t.NegRight+o.NegRight
}

// BalancedAccuracy is the mean of the recall on positives and on negatives,
// fair to sets whose classes are not balanced.
func (t Tally) BalancedAccuracy() float64 {
	recall := func(right, total int) float64 {
		if total == 0 {
			return 0
		}
		return float64(right) / float64(total)
	}
	return (recall(t.PosRight, t.Pos) + recall(t.NegRight, t.Neg)) / 2
}

// Accuracy is the share of right answers.
func (t Tally) Accuracy() float64 {
	if n := t.Pos + t.Neg; n > 0 {
		return float64(t.PosRight+t.NegRight) / float64(n)
	}
	return 0
}

func (t Tally) String() string {
	return fmt.Sprintf("balanced_accuracy=%.3f accuracy=%.3f n=%d", t.BalancedAccuracy(), t.Accuracy(), t.Pos+t.Neg)
}
