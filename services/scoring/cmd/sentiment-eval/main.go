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
	"fmt"
	"os"

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
	var all sentiment.Tally
	for _, path := range os.Args[1:] {
		t, err := evaluate(path, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sentiment-eval:", err)
			os.Exit(1)
		}
		fmt.Printf("file=%s %s\n", path, t)
		all.Add(t)
	}
	fmt.Println(all)
}

func evaluate(path string, s *sentiment.Scorer) (sentiment.Tally, error) {
	rows, err := sentiment.ReadLabelled(path)
	if err != nil {
		return sentiment.Tally{}, err
	}
	return s.Evaluate(rows), nil
}
