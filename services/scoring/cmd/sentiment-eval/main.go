// Command sentiment-eval measures the comment sentiment scorer on labelled
// reviews:
//
//	go run github.com/feedloop/feedloop/services/scoring/cmd/sentiment-eval FILE...
//
// Each FILE is either CSV with a `label,review` header or `text<TAB>label`
// lines; label 1 is positive, 0 negative. A neutral score (0) counts as
// wrong. It prints one line per file and, last, the figures over all files:
// `balanced_accuracy=0.xxx accuracy=0.xxx n=N`. The language of each review is
// detected from its script, as for events that do not name one.
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/feedloop/feedloop/services/scoring/internal/sentiment"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sentiment-eval FILE...  (CSV `label,review` or `text<TAB>label` lines)")
		os.Exit(2)
	}
	s, err := sentiment.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sentiment-eval:", err)
		os.Exit(1)
	}
	var all tally
	for _, path := range os.Args[1:] {
		t, err := evaluate(path, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sentiment-eval:", err)
			os.Exit(1)
		}
		fmt.Printf("file=%s %s\n", path, t)
		all.add(t)
	}
	fmt.Println(all)
}

// tally counts right and wrong answers per class.
type tally struct{ pos, posRight, neg, negRight int }

func (t *tally) add(o tally) {
	t.pos, t.posRight, t.neg, t.negRight = t.pos+o.pos, t.posRight+o.posRight, t.neg+o.neg, t.negRight+o.negRight
}

func (t tally) String() string {
	n := t.pos + t.neg
	if n == 0 {
		return "balanced_accuracy=0.000 accuracy=0.000 n=0"
	}
	recall := func(right, total int) float64 {
		if total == 0 {
			return 0
		}
		return float64(right) / float64(total)
	}
	balanced := (recall(t.posRight, t.pos) + recall(t.negRight, t.neg)) / 2
	return fmt.Sprintf("balanced_accuracy=%.3f accuracy=%.3f n=%d", balanced, float64(t.posRight+t.negRight)/float64(n), n)
}

type labelled struct {
	text     string
	positive bool
}

func evaluate(path string, s *sentiment.Scorer) (tally, error) {
	rows, err := read(path)
	if err != nil {
		return tally{}, err
	}
	var t tally
	for _, r := range rows {
		score := s.Sentiment(r.text, "").Score
		if r.positive {
			t.pos++
			if score > 0 {
				t.posRight++
			}
		} else {
			t.neg++
			if score < 0 {
				t.negRight++
			}
		}
	}
	return t, nil
}

// read loads either format.
func read(path string) ([]labelled, error) {
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

func readCSV(path string, r io.Reader) ([]labelled, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	records, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []labelled
	for i, rec := range records[1:] {
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s: row %d: want label,review", path, i+2)
		}
		pos, err := label(rec[0])
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i+2, err)
		}
		out = append(out, labelled{text: strings.Join(rec[1:], ","), positive: pos})
	}
	return out, nil
}

func readTSV(path string, r io.Reader) ([]labelled, error) {
	var out []labelled
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
		out = append(out, labelled{text: line[:i], positive: pos})
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
