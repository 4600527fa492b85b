package rollup

import (
	"math"
	"testing"

	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

var weights = score.DefaultConfig().Servqual

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNPS(t *testing.T) {
	for _, tc := range []struct {
		name                string
		pro, pas, det       int64
		wantNPS, wantMargin float64
	}{
		{"no answers", 0, 0, 0, 0, 0},
		{"all promoters (NPS 10s)", 7, 0, 0, 100, 0},
		{"all detractors (NPS 0s)", 0, 0, 4, -100, 0},
		{"all passives", 0, 5, 0, 0, 0},
		// p = .5, d = .2: variance .7 − .09 = .61; 1.96 × √(.61/100) × 100.
		{"50/30/20 of 100", 50, 30, 20, 30, 1.96 * math.Sqrt(0.0061) * 100},
		// Half promoters, half detractors: variance 1, the widest.
		{"1 promoter, 1 detractor", 1, 0, 1, 0, 1.96 * math.Sqrt(0.5) * 100},
	} {
		nps, margin := NPS(tc.pro, tc.pas, tc.det)
		if !near(nps, tc.wantNPS) || !near(margin, tc.wantMargin) {
			t.Errorf("%s: NPS %v ± %v, want %v ± %v", tc.name, nps, margin, tc.wantNPS, tc.wantMargin)
		}
	}
}

func scored(t *testing.T, in score.Input, sentiment float64) Counts {
	t.Helper()
	return Event(in, score.New(score.DefaultConfig(), fixedSentiment(sentiment)).Score(in))
}

type fixedSentiment float64

func (f fixedSentiment) Sentiment(string, string) score.Sentiment {
	return score.Sentiment{Score: float64(f)}
}

func input() score.Input { return score.Input{NPS: -1, CSAT: -1, CES: -1} }

func TestEventCounters(t *testing.T) {
	only := func(f func(*score.Input)) score.Input { in := input(); f(&in); return in }
	for _, tc := range []struct {
		name string
		in   score.Input
		want map[int]int64 // every other counter is 0
	}{
		{"NPS 10", only(func(in *score.Input) { in.NPS = 10 }),
			map[int]int64{Responses: 1, Promoters: 1, ExperienceSum: 10000, ExperienceCount: 1}},
		{"NPS 0", only(func(in *score.Input) { in.NPS = 0 }),
			map[int]int64{Responses: 1, Detractors: 1, ExperienceCount: 1}},
		{"only a comment", only(func(in *score.Input) { in.Comment = "fine" }),
			map[int]int64{Responses: 1, SentimentSum: -2500, SentimentCount: 1, ExperienceSum: 3750, ExperienceCount: 1}},
		{"only SERVQUAL", only(func(in *score.Input) { in.Servqual[score.Reliability] = score.Rating{Expectation: 7, Perception: 4} }),
			map[int]int64{Responses: 1, GapSum + int(score.Reliability): -3, GapCount + int(score.Reliability): 1, ExperienceSum: 3750, ExperienceCount: 1}},
		{"CSAT, CES and a complaint", only(func(in *score.Input) { in.CSAT, in.CES, in.Complaint = 4, 2, score.Billing }),
			// (75 × .2 + 83.33 × .1 + 0 × .1) / .4 = 58.33
			map[int]int64{Responses: 1, CSATSum: 4, CSATCount: 1, CESSum: 2, CESCount: 1, Complaints: 1, ExperienceSum: 5833, ExperienceCount: 1}},
	} {
		got := scored(t, tc.in, -0.25)
		for i, v := range got {
			if v != tc.want[i] {
				t.Errorf("%s: counter %d = %d, want %d (all: %v)", tc.name, i, v, tc.want[i], got)
			}
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Run("empty window", func(t *testing.T) {
		s := Summarize(Counts{}, weights)
		if s.Responses != 0 || s.NPS != nil || s.NPSMargin != nil || s.CSAT != nil || s.CES != nil || s.Weighted != nil ||
			s.Weakest != "" || s.Sentiment != nil || s.Experience != nil || s.ComplaintRate != 0 {
			t.Errorf("summary of nothing = %+v", s)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		var c Counts
		for _, in := range []score.Input{
			func() score.Input { in := input(); in.NPS, in.CSAT = 10, 5; return in }(),
			func() score.Input { in := input(); in.NPS, in.CES = 3, 7; in.Complaint = score.Delivery; return in }(),
			func() score.Input {
				in := input()
				in.NPS = 8
				in.Servqual[score.Empathy] = score.Rating{Expectation: 6, Perception: 3}
				in.Servqual[score.Tangibles] = score.Rating{Expectation: 4, Perception: 5}
				return in
			}(),
			func() score.Input { in := input(); in.Comment = "x"; return in }(),
		} {
			c.Add(scored(t, in, 0.5))
		}
		s := Summarize(c, weights)
		checks := []struct {
			name      string
			got, want float64
		}{
			{"responses", float64(s.Responses), 4},
			{"NPS", *s.NPS, 0}, // 1 promoter, 1 passive, 1 detractor
			{"NPS margin", *s.NPSMargin, 1.96 * math.Sqrt(2.0/3/3) * 100},
			{"CSAT", *s.CSAT, 100},
			{"CES", *s.CES, 0},
			{"empathy gap", *s.Gaps[score.Empathy], -3},
			{"tangibles gap", *s.Gaps[score.Tangibles], 1},
			{"weighted gap", *s.Weighted, (0.16*-3 + 0.11*1) / 0.27},
			{"sentiment", *s.Sentiment, 0.5},
			{"complaint rate", s.ComplaintRate, 0.25},
		}
		for _, c := range checks {
			if !near(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		if s.Weakest != "empathy" || s.Gaps[score.Reliability] != nil {
			t.Errorf("weakest = %q, reliability = %v", s.Weakest, s.Gaps[score.Reliability])
		}
	})
}

func TestStorageFormat(t *testing.T) {
	var c Counts
	for i := range c {
		c[i] = int64(i*i) - 40
	}
	back, err := Decode(string(c.Encode()))
	if err != nil || back != c {
		t.Fatalf("round trip: %v, %v, want %v", back, err, c)
	}
	if short, err := Decode(string(c.Encode()[:16])); err != nil || short[Responses] != -40 || short[Promoters] != -39 || short[Passives] != 0 {
		t.Errorf("older, shorter format: %v, %v", short, err)
	}
	if long, err := Decode(string(append(c.Encode(), make([]byte, 8)...))); err != nil || long != c {
		t.Errorf("newer, longer format: %v, %v", long, err)
	}
	if _, err := Decode("\x01\x02\x03"); err == nil {
		t.Error("a partial counter decoded")
	}
}
