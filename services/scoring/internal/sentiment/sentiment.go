// Package sentiment reads the tone of a comment from word lists: scored
// words and phrases, negators that flip the sentiment terms after them in the
// same clause ("not good", "不满意"), and intensifiers that scale the next one
// ("very good", "非常好"). English is matched on words, Chinese on
// characters, both longest entry first. The lists are data files (lexicon/),
// embedded in the binary.
package sentiment

import (
	"bufio"
	"cmp"
	"embed"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

//go:embed lexicon/*.tsv
var lexicons embed.FS

const (
	// negation flips and damps a term: "not good" is less bad than "bad".
	negation = -0.75
	// scope is how many terms a negator reaches, within its clause.
	scope = 3
	// alpha normalises the sum of term scores into −1…1: s / √(s² + alpha).
	alpha = 2.0
)

// Lexicon is one language's lists, in one map so that each candidate costs
// one lookup.
type Lexicon struct {
	entries map[string]entry
	longest int // longest entry, in words (English) or characters (Chinese)
}

type kind int

const (
	word kind = iota
	negator
	intensifier
)

// entry is a lexicon term: a word's polarity or an intensifier's factor.
type entry struct {
	kind  kind
	value float64
}

// ParseLexicon reads the lexicon file format (see lexicon/README.md).
// units counts an entry's length for longest-first matching.
func ParseLexicon(r io.Reader, units func(string) int) (*Lexicon, error) {
	l := &Lexicon{entries: map[string]entry{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want kind<TAB>term<TAB>value", n)
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", n, err)
		}
		switch f[0] {
		case "word":
			if v < -1 || v > 1 {
				return nil, fmt.Errorf("line %d: polarity %v outside -1..1", n, v)
			}
			l.entries[f[1]] = entry{word, v}
		case "negator":
			l.entries[f[1]] = entry{negator, 0}
		case "intensifier":
			if v <= 0 {
				return nil, fmt.Errorf("line %d: intensifier factor %v must be positive", n, v)
			}
			l.entries[f[1]] = entry{intensifier, v}
		default:
			return nil, fmt.Errorf("line %d: unknown kind %q", n, f[0])
		}
		l.longest = max(l.longest, units(f[1]))
	}
	return l, sc.Err()
}

// Scorer scores comments in English and Chinese.
type Scorer struct{ en, zh *Lexicon }

var _ score.SentimentScorer = (*Scorer)(nil)

// New loads the embedded lexicons.
func New() (*Scorer, error) {
	load := func(name string, units func(string) int) (*Lexicon, error) {
		f, err := lexicons.Open("lexicon/" + name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		l, err := ParseLexicon(f, units)
		if err != nil {
			return nil, fmt.Errorf("lexicon %s: %w", name, err)
		}
		return l, nil
	}
	en, err := load("en.tsv", func(s string) int { return len(strings.Fields(s)) })
	if err != nil {
		return nil, err
	}
	zh, err := load("zh.tsv", utf8.RuneCountInString)
	if err != nil {
		return nil, err
	}
	return &Scorer{en: en, zh: zh}, nil
}

// Language picks the lexicon: the event's language tag when given (its
// primary subtag), otherwise the script the comment is mostly written in.
func Language(text, tag string) string {
	if tag != "" {
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		return primary
	}
	var han, latin int
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			latin++
		}
	}
	// A Han character carries about a word's meaning, a letter a fifth of one.
	if han*5 >= latin && han > 0 {
		return "zh"
	}
	return "en"
}

// term is a matched lexicon entry with its effect on the score.
type term struct {
	text  string
	value float64
}

// Sentiment scores text (score.SentimentScorer). Languages without a
// lexicon are read as English.
func (s *Scorer) Sentiment(text, tag string) score.Sentiment {
	lang := Language(text, tag)
	var terms []term
	if lang == "zh" {
		terms = s.zh.match(chineseUnits(text), "")
	} else {
		lang = "en"
		terms = s.en.match(englishUnits(text), " ")
	}
	var sum float64
	for _, t := range terms {
		sum += t.value
	}
	out := score.Sentiment{Score: sum / math.Sqrt(sum*sum+alpha), Language: lang}
	slices.SortStableFunc(terms, func(a, b term) int {
		return cmp.Compare(math.Abs(b.value), math.Abs(a.value))
	})
	for _, t := range terms {
		out.Drivers = append(out.Drivers, t.text)
	}
	return out
}

// units is text cut into matching units (words, or characters) laid out in
// one normalised string, so that any run of units is a substring: matching
// allocates nothing. A stop unit ends a clause.
type units struct {
	text       string
	start, end []int
	stop       []bool
}

// match scans the units longest entry first and returns the sentiment terms
// with negation and intensity applied.
func (l *Lexicon) match(u units, sep string) []term {
	var terms []term
	negated := 0        // sentiment terms the last negator still reaches
	boost := 1.0        // multiplier from the intensifiers before the next term
	var prefix []string // those negators and intensifiers, for the driver text
	for i := 0; i < len(u.start); {
		if u.stop[i] {
			negated, boost, prefix = 0, 1, nil
			i++
			continue
		}
		n, text, e := l.longestAt(u, i)
		if n == 0 {
			i++
			continue
		}
		switch e.kind {
		case negator:
			negated = scope
			prefix = append(prefix, text)
		case intensifier:
			boost *= e.value
			prefix = append(prefix, text)
		case word:
			v := e.value * boost
			if negated > 0 {
				v *= negation
				negated--
			}
			terms = append(terms, term{text: strings.Join(append(prefix, text), sep), value: v})
			boost, prefix = 1, nil
		}
		i += n
	}
	return terms
}

// longestAt finds the longest entry starting at unit i, within its clause,
// and returns how many units it spans.
func (l *Lexicon) longestAt(u units, i int) (int, string, entry) {
	last := i
	for last+1 < len(u.start) && last+1-i < l.longest && !u.stop[last+1] {
		last++
	}
	for j := last; j >= i; j-- {
		cand := u.text[u.start[i]:u.end[j]]
		if e, ok := l.entries[cand]; ok {
			return j - i + 1, cand, e
		}
	}
	return 0, "", entry{}
}

// englishUnits lower-cases text and splits it into words (apostrophes kept:
// "doesn't"); clause punctuation and "but" end a clause.
func englishUnits(text string) units {
	var words []string // "" ends a clause
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			if s := w.String(); s == "but" {
				words = append(words, "")
			} else {
				words = append(words, s)
			}
			w.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case r == '’':
			w.WriteByte('\'')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			w.WriteRune(r)
		case strings.ContainsRune(".,;:!?()", r):
			flush()
			words = append(words, "")
		default:
			flush()
		}
	}
	flush()

	var u units
	var b strings.Builder
	b.Grow(len(text))
	for i, word := range words {
		if word != "" && i > 0 && words[i-1] != "" {
			b.WriteByte(' ')
		}
		u.start = append(u.start, b.Len())
		b.WriteString(word)
		u.end = append(u.end, b.Len())
		u.stop = append(u.stop, word == "")
	}
	u.text = b.String()
	return u
}

// chineseUnits splits text into characters; clause punctuation ends a
// clause. The text itself is the normalised string.
func chineseUnits(text string) units {
	u := units{text: text}
	for i, r := range text {
		end := i + utf8.RuneLen(r)
		u.start, u.end = append(u.start, i), append(u.end, end)
		u.stop = append(u.stop, strings.ContainsRune("，。！？；：、,.!?;:（）() \n\t", r))
	}
	return u
}
