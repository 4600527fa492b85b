// Package sentiment reads the tone of a comment from word lists: scored
// words and phrases, negators that flip the sentiment terms just after them
// in the same clause ("not good", "不满意"), intensifiers that scale the next
// one ("very good", "非常好"), contrasts that shift the weight to what
// follows them ("…, but", "但是") and concessions that weaken their own
// clause ("although", "虽然"). English is matched on words, Chinese on
// characters, both longest entry first. The lists are data files (lexicon/),
// embedded in the binary and parsed once.
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
	// alpha normalises the sum of term scores into −1…1: s / √(s² + alpha).
	alpha = 2.0
	// exclaim strengthens a comment per exclamation mark, up to maxExclaim.
	exclaim    = 0.1
	maxExclaim = 3
	// dangling is the score of a negator that negated no listed term.
	dangling = -0.2
)

// Negation scope, in units after the negator: three English words (as in
// VADER: "not a very good"), four Chinese characters ("不是很好").
const (
	scopeEnglish = 3
	scopeChinese = 4
)

// Lexicon is one language's lists, in one map so that each candidate costs
// one lookup.
type Lexicon struct {
	entries map[string]entry
	scope   int // units a negator reaches
}

type kind int

const (
	prefix      kind = iota // not an entry: the start of a longer one
	word                    // polarity; 0 only shields its units from shorter entries
	negator                 // flips the terms in its scope
	intensifier             // scales the next term
	contrast                // scales the terms before it ("but")
	concession              // scales the rest of its clause ("although")
)

var kinds = map[string]kind{
	"word": word, "negator": negator, "intensifier": intensifier,
	"contrast": contrast, "concession": concession,
}

// entry is a lexicon term: a word's polarity or a modifier's factor.
// longer tells the matcher that some entry starts with this key.
type entry struct {
	kind   kind
	value  float64
	longer bool
}

// ParseLexicon reads the lexicon file format (see lexicon/README.md).
// units counts an entry's length: a matching unit ends wherever splitting
// the entry in two does not change the total.
func ParseLexicon(r io.Reader, units func(string) int) (*Lexicon, error) {
	l := &Lexicon{entries: map[string]entry{}, scope: scopeEnglish}
	return l, l.read(r, units)
}

// read adds a file's entries; an entry replaces an earlier one of the same
// term, so a later file can correct an earlier one.
func (l *Lexicon) read(r io.Reader, units func(string) int) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[1] == "" {
			return fmt.Errorf("line %d: want kind<TAB>term<TAB>value", n)
		}
		k, ok := kinds[f[0]]
		if !ok {
			return fmt.Errorf("line %d: unknown kind %q", n, f[0])
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return fmt.Errorf("line %d: value: %w", n, err)
		}
		switch {
		case k == word && (v < -1 || v > 1):
			return fmt.Errorf("line %d: polarity %v outside -1..1", n, v)
		case k == intensifier && v <= 0:
			return fmt.Errorf("line %d: intensifier factor %v must be positive", n, v)
		case (k == contrast || k == concession) && (v < 0 || v > 1):
			return fmt.Errorf("line %d: %s weight %v outside 0..1", n, f[0], v)
		}
		l.add(f[1], entry{kind: k, value: v}, units)
	}
	return sc.Err()
}

// add stores term and marks its proper prefixes (at unit boundaries), which
// lets the matcher stop extending a candidate as soon as no entry starts
// with it.
func (l *Lexicon) add(term string, e entry, units func(string) int) {
	e.longer = l.entries[term].longer
	l.entries[term] = e
	total := units(term)
	for i := range term {
		p := strings.TrimSpace(term[:i])
		if i == 0 || p == "" || units(p)+units(term[i:]) != total {
			continue
		}
		pe := l.entries[p]
		pe.longer = true
		l.entries[p] = pe
	}
}

// Scorer scores comments in English and Chinese.
type Scorer struct{ en, zh *Lexicon }

var _ score.SentimentScorer = (*Scorer)(nil)

// Each language reads third-party lists first and its project-written list
// last, so that the project's list overrides a third-party entry.
var (
	englishFiles = []string{"en-vader.tsv", "en.tsv"}
	chineseFiles = []string{"zh-ntusd.tsv", "zh.tsv"}
)

// New loads the embedded lexicons.
func New() (*Scorer, error) {
	load := func(names []string, units func(string) int, scope int) (*Lexicon, error) {
		l := &Lexicon{entries: map[string]entry{}, scope: scope}
		for _, name := range names {
			f, err := lexicons.Open("lexicon/" + name)
			if err != nil {
				return nil, err
			}
			err = l.read(f, units)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("lexicon %s: %w", name, err)
			}
		}
		return l, nil
	}
	en, err := load(englishFiles, func(s string) int { return len(strings.Fields(s)) }, scopeEnglish)
	if err != nil {
		return nil, err
	}
	zh, err := load(chineseFiles, utf8.RuneCountInString, scopeChinese)
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
		case r < utf8.RuneSelf: // ASCII, the common case, without table lookups
			if 'a' <= r|0x20 && r|0x20 <= 'z' {
				latin++
			}
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
	// Exclamation marks add emphasis, not direction.
	bangs := min(strings.Count(text, "!")+strings.Count(text, "！"), maxExclaim)
	sum *= 1 + exclaim*float64(bangs)
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
// one normalised string, so that any run of units in a clause is a
// substring: matching allocates nothing.
type units struct {
	text  string
	spans []span
}

// span is one unit's bytes in units.text; a stop unit ends a clause.
type span struct {
	start, end int32
	stop       bool
}

// of returns the text of units i through j.
func (u units) of(i, j int) string { return u.text[u.spans[i].start:u.spans[j].end] }

// match scans the units longest entry first and returns the sentiment terms
// with negation, intensity, contrast and concession applied.
func (l *Lexicon) match(u units, sep string) []term {
	var terms []term
	// The open negator spans units [negStart, negStart+negLen); its scope
	// ends before unit negEnd; negUsed once it has flipped a term.
	negStart, negLen, negEnd, negUsed := 0, 0, 0, false
	boost := 1.0 // multiplier from the intensifiers before the next term
	var boosts []string
	weight := 1.0 // a concession's weight, to the end of its clause
	// closeNeg ends the open negator at unit end. One that negated nothing
	// but words the lists do not score ("didn't arrive", "没有热水") most
	// often reports something missing or failing: a mild complaint.
	closeNeg := func(end int) {
		if negEnd > 0 && !negUsed && end > negStart+negLen {
			text := u.of(negStart, end-1)
			terms = append(terms, term{text: text, value: dangling * weight})
		}
		negEnd = 0
	}
	for i := 0; i < len(u.spans); {
		if negEnd > 0 && i >= negEnd {
			closeNeg(negEnd)
		}
		if u.spans[i].stop {
			closeNeg(i)
			boost, boosts, weight = 1, boosts[:0], 1
			i++
			continue
		}
		n, text, e := l.longestAt(u, i)
		if n == 0 && sep != "" {
			n, text, e = l.inflected(u.of(i, i))
		}
		if n == 0 {
			i++
			continue
		}
		switch e.kind {
		case negator:
			if negEnd > 0 && !negUsed { // a second negator cancels the first: "不是不好"
				negEnd = 0
			} else {
				closeNeg(i)
				negStart, negLen, negEnd, negUsed = i, n, i+n+l.scope, false
			}
		case intensifier:
			boost *= e.value
			boosts = append(boosts, text)
		case contrast:
			closeNeg(i)
			for k := range terms {
				terms[k].value *= e.value
			}
			boost, boosts = 1, boosts[:0]
		case concession:
			weight = e.value
		case word:
			if e.value == 0 {
				break
			}
			v := e.value * boost * weight
			if negEnd > 0 {
				v *= negation
				negUsed = true
				neg := u.of(negStart, negStart+negLen-1)
				if len(boosts) == 0 {
					text = neg + sep + text
				} else {
					text = neg + sep + strings.Join(boosts, sep) + sep + text
				}
			} else if len(boosts) > 0 {
				text = strings.Join(boosts, sep) + sep + text
			}
			terms = append(terms, term{text: text, value: v})
			boost, boosts = 1, boosts[:0]
		}
		i += n
	}
	closeNeg(min(negEnd, len(u.spans)))
	return terms
}

// longestAt finds the longest entry starting at unit i, within its clause,
// and returns how many units it spans. It extends the candidate one unit at
// a time while some entry still starts with it.
//
// Greedy longest match can let a word swallow the start of the next one
// (很满|意 for 很|满意): when a shorter negator or intensifier also starts
// at i and the entry after it reaches further, the modifier wins.
func (l *Lexicon) longestAt(u units, i int) (int, string, entry) {
	n, text, best := l.longest(u, i)
	if best.kind != word || n == 1 {
		return n, text, best
	}
	for k := n - 1; k >= 1; k-- {
		mod := u.of(i, i+k-1)
		if e := l.entries[mod]; e.kind == negator || e.kind == intensifier {
			if next, _, _ := l.longest(u, i+k); k+next > n {
				return k, mod, e
			}
			break
		}
	}
	return n, text, best
}

// suffixes are English inflections with the lengths to cut to reach a
// listed base: "worked" → "work", "liked" → "like", "sweetest" → "sweet".
var suffixes = []struct {
	suffix string
	cuts   []int
}{
	{"ing", []int{3}},
	{"est", []int{3, 2}},
	{"ed", []int{2, 1}},
	{"er", []int{2, 1}},
	{"ly", []int{2}},
	{"es", []int{2, 1}},
	{"s", []int{1}},
}

// inflected reads an unlisted English word as a listed word's inflection;
// any contraction in n't negates ("shouldn't", "aren't").
func (l *Lexicon) inflected(w string) (int, string, entry) {
	if strings.HasSuffix(w, "n't") {
		return 1, w, entry{kind: negator}
	}
	for _, s := range suffixes {
		if !strings.HasSuffix(w, s.suffix) {
			continue
		}
		for _, c := range s.cuts {
			if len(w)-c < 3 {
				continue
			}
			if e, ok := l.entries[w[:len(w)-c]]; ok && e.kind == word && e.value != 0 {
				return 1, w, e
			}
		}
		break
	}
	return 0, "", entry{}
}

// longest is the plain greedy longest match at unit i.
func (l *Lexicon) longest(u units, i int) (int, string, entry) {
	var best entry
	n, text := 0, ""
	for j := i; j < len(u.spans) && !u.spans[j].stop; j++ {
		cand := u.of(i, j)
		e, ok := l.entries[cand]
		if !ok {
			break
		}
		if e.kind != prefix {
			n, text, best = j-i+1, cand, e
		}
		if !e.longer {
			break
		}
	}
	return n, text, best
}

// englishUnits lower-cases text and splits it into words (apostrophes kept:
// "doesn't"), one space apart within a clause; clause punctuation ends a
// clause.
func englishUnits(text string) units {
	var b strings.Builder
	b.Grow(len(text))
	spans := make([]span, 0, len(text)/4+4)
	inWord := false
	endWord := func() {
		if inWord {
			spans[len(spans)-1].end = int32(b.Len())
			inWord = false
		}
	}
	for _, r := range text {
		switch {
		case r == '\'' || r == '’' || unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				if n := len(spans); n > 0 && !spans[n-1].stop {
					b.WriteByte(' ')
				}
				spans = append(spans, span{start: int32(b.Len())})
				inWord = true
			}
			if r == '’' {
				r = '\''
			}
			b.WriteRune(unicode.ToLower(r))
		case clausePunct(r):
			endWord()
			spans = append(spans, span{start: int32(b.Len()), end: int32(b.Len()), stop: true})
		default:
			endWord()
		}
	}
	endWord()
	return units{text: b.String(), spans: spans}
}

// chineseUnits splits text into characters; clause punctuation and spaces
// end a clause. The text itself is the normalised string.
func chineseUnits(text string) units {
	spans := make([]span, 0, utf8.RuneCountInString(text))
	for i, r := range text {
		stop := clausePunct(r) || unicode.IsSpace(r)
		spans = append(spans, span{start: int32(i), end: int32(i + utf8.RuneLen(r)), stop: stop})
	}
	return units{text: text, spans: spans}
}

// clausePunct reports punctuation that ends a clause, in either script.
func clausePunct(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', '(', ')',
		'。', '，', '；', '：', '！', '？', '、', '（', '）', '~', '～', '…':
		return true
	}
	return false
}
