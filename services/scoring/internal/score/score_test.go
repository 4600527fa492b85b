package score

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// fixed is a sentiment scorer that returns a given score: the formulas are
// tested apart from any lexicon.
type fixed float64

func (f fixed) Sentiment(string, string) Sentiment { return Sentiment{Score: float64(f)} }

func none() Input { return Input{NPS: -1, CSAT: -1, CES: -1} }

func TestClassifyNPS(t *testing.T) {
	for n, want := range map[int]NPSClass{-1: NoNPS, 0: Detractor, 6: Detractor, 7: Passive, 8: Passive, 9: Promoter, 10: Promoter} {
		if got := ClassifyNPS(n); got != want {
			t.Errorf("ClassifyNPS(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"CSAT 1", NormalizeCSAT(1), 0}, {"CSAT 3", NormalizeCSAT(3), 50}, {"CSAT 5", NormalizeCSAT(5), 100},
		{"CES 1 (least effort)", NormalizeCES(1), 100}, {"CES 4", NormalizeCES(4), 50}, {"CES 7", NormalizeCES(7), 0},
		{"SERVQUAL -6", ServqualValue(-6), 0}, {"SERVQUAL 0", ServqualValue(0), 75}, {"SERVQUAL 6", ServqualValue(6), 100},
		{"sentiment -1", SentimentValue(-1), 0}, {"sentiment 0", SentimentValue(0), 50}, {"sentiment 1", SentimentValue(1), 100},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestServqualGaps(t *testing.T) {
	w := DefaultConfig().Servqual
	g := ServqualGaps([NumDimensions]Rating{Reliability: {7, 4}, Tangibles: {5, 6}}, w)
	if !g.Any || !g.Rated[Reliability] || g.Rated[Empathy] || g.Dimension[Reliability] != -3 || g.Dimension[Tangibles] != 1 {
		t.Errorf("gaps = %+v", g)
	}
	if want := (0.32*-3 + 0.11) / 0.43; math.Abs(g.Weighted-want) > 1e-9 {
		t.Errorf("weighted = %v, want %v", g.Weighted, want)
	}
	if g := ServqualGaps([NumDimensions]Rating{}, w); g.Any || g.Weighted != 0 {
		t.Errorf("no ratings: %+v", g)
	}
}

func TestContributionsAddUp(t *testing.T) {
	s := New(DefaultConfig(), fixed(-0.2))
	in := Input{NPS: 5, CSAT: 3, CES: 2, Comment: "meh", Complaint: Billing,
		Servqual: [NumDimensions]Rating{Assurance: {6, 3}}}
	r := s.Score(in)
	var points, weights float64
	for _, c := range r.Contributions {
		points += c.Points
		weights += c.Weight
	}
	if len(r.Contributions) != 6 || math.Abs(weights-1) > 1e-9 || math.Abs(points-r.Experience) > 0.01 {
		t.Errorf("contributions %+v sum to %v (weights %v), experience %v", r.Contributions, points, weights, r.Experience)
	}
}

func TestMissingSignalsReweight(t *testing.T) {
	s := New(DefaultConfig(), fixed(0))
	in := none()
	in.CSAT = 5
	r := s.Score(in)
	if r.Experience != 100 || len(r.Contributions) != 1 || r.Contributions[0].Weight != 1 {
		t.Errorf("CSAT 5 alone = %v %+v, want 100 with weight 1", r.Experience, r.Contributions)
	}
}

// TestWorkedExamples checks the examples table in docs/scoring.md.
func TestWorkedExamples(t *testing.T) {
	f, err := os.Open("../../../../docs/scoring.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := 0
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<!-- examples"):
			in = true
			continue
		case strings.HasPrefix(line, "<!-- end of examples"):
			in = false
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| #") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows++
		t.Run("example "+cells[0], func(t *testing.T) { checkExample(t, cells) })
	}
	if rows < 8 {
		t.Fatalf("found %d examples in docs/scoring.md, want at least 8", rows)
	}
}

func checkExample(t *testing.T, c []string) {
	num := func(s string) int {
		if s == "—" {
			return -1
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("bad number %q", s)
		}
		return n
	}
	in := Input{NPS: num(c[1]), CSAT: num(c[2]), CES: num(c[3])}
	if c[4] != "—" {
		for _, part := range strings.Split(c[4], ",") {
			var name string
			var e, p int
			if err := parseRating(strings.TrimSpace(part), &name, &e, &p); err != nil {
				t.Fatalf("bad SERVQUAL %q: %v", part, err)
			}
			d := dimensionByName(t, name)
			in.Servqual[d] = Rating{Expectation: e, Perception: p}
		}
	}
	sent := 0.0
	if c[5] != "—" {
		in.Comment = "a comment"
		sent, _ = strconv.ParseFloat(c[5], 64)
	}
	if c[6] != "—" {
		in.Complaint = categoryByName(t, c[6])
	}
	r := New(DefaultConfig(), fixed(sent)).Score(in)
	want, _ := strconv.ParseFloat(c[7], 64)
	if math.Abs(r.Experience-want) > 0.005 {
		t.Errorf("experience = %v, want %v (%+v)", r.Experience, want, r.Contributions)
	}
	if got := r.Severity.String(); got != c[8] {
		t.Errorf("severity = %s, want %s", got, c[8])
	}
}

func dimensionByName(t *testing.T, name string) Dimension {
	for d := range NumDimensions {
		if d.String() == name {
			return d
		}
	}
	t.Fatalf("unknown dimension %q", name)
	return 0
}

func categoryByName(t *testing.T, name string) Category {
	for c, n := range map[Category]string{Product: "product", Delivery: "delivery", Billing: "billing", Service: "service",
		Staff: "staff", Safety: "safety", Privacy: "privacy", OtherComplaint: "other"} {
		if n == name {
			return c
		}
	}
	t.Fatalf("unknown complaint category %q", name)
	return 0
}

// parseRating reads "dimension E→P".
func parseRating(s string, name *string, e, p *int) error {
	n, rest, ok := strings.Cut(s, " ")
	if !ok {
		return strconv.ErrSyntax
	}
	es, ps, ok := strings.Cut(rest, "→")
	if !ok {
		return strconv.ErrSyntax
	}
	var err error
	*name = n
	if *e, err = strconv.Atoi(es); err != nil {
		return err
	}
	*p, err = strconv.Atoi(ps)
	return err
}

func BenchmarkScore(b *testing.B) {
	s := New(DefaultConfig(), fixed(-0.4))
	in := Input{NPS: 4, CSAT: 2, CES: 5, Comment: "late again", Complaint: Delivery,
		Servqual: [NumDimensions]Rating{Reliability: {7, 3}, Responsiveness: {6, 4}}}
	b.ReportAllocs()
	for b.Loop() {
		s.Score(in)
	}
}
