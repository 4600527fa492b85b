// Package score turns one feedback event into the customer-experience
// measures service-quality practice uses: NPS class, CSAT and CES on 0–100,
// SERVQUAL gaps, comment sentiment, complaint severity, and one composite
// experience score with each signal's part in it. Pure functions, no I/O.
// Every formula and default is written down, with worked examples, in
// docs/scoring.md; the tests check those examples.
package score

import "math"

// Dimension is a SERVQUAL dimension.
type Dimension int

// The five SERVQUAL dimensions.
const (
	Reliability Dimension = iota
	Responsiveness
	Assurance
	Empathy
	Tangibles
	NumDimensions
)

var dimensionNames = [NumDimensions]string{"reliability", "responsiveness", "assurance", "empathy", "tangibles"}

func (d Dimension) String() string { return dimensionNames[d] }

// Rating is one SERVQUAL dimension's answer: expectation and perception,
// each 1–7. The zero Rating means the dimension was not rated.
type Rating struct{ Expectation, Perception int }

func (r Rating) rated() bool { return r.Expectation != 0 && r.Perception != 0 }

// Category is what a complaint is about (the intake API's categories).
type Category int

// Complaint categories; NoComplaint means the event has none.
const (
	NoComplaint Category = iota
	Product
	Delivery
	Billing
	Service
	Staff
	Safety
	Privacy
	OtherComplaint
)

// Input is what scoring reads from a feedback event. Scores use -1 for
// "not given" (they are 0–10, 1–5, 1–7 when given).
type Input struct {
	NPS, CSAT, CES int
	Servqual       [NumDimensions]Rating
	Comment        string
	Language       string // BCP 47 tag; empty: detect
	Complaint      Category
}

// NPSClass is the Net Promoter class of an NPS answer.
type NPSClass int

// NPS classes.
const (
	NoNPS NPSClass = iota
	Detractor
	Passive
	Promoter
)

// ClassifyNPS: promoter 9–10, passive 7–8, detractor 0–6.
func ClassifyNPS(nps int) NPSClass {
	switch {
	case nps < 0:
		return NoNPS
	case nps <= 6:
		return Detractor
	case nps <= 8:
		return Passive
	}
	return Promoter
}

// NormalizeCSAT maps CSAT 1–5 to 0–100 (1 → 0, 5 → 100).
func NormalizeCSAT(csat int) float64 { return float64(csat-1) / 4 * 100 }

// NormalizeCES maps CES 1–7 to 0–100 where 100 is the least effort: the
// question asks how much effort it took, so 1 (very low effort) → 100 and
// 7 (very high effort) → 0.
func NormalizeCES(ces int) float64 { return float64(7-ces) / 6 * 100 }

// Severity grades how urgently an event needs recovery.
type Severity int

// Severities, lowest first.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

func (s Severity) String() string { return severityNames[s] }

// Sentiment is the tone of a comment.
type Sentiment struct {
	// Score is -1 (very negative) to 1 (very positive).
	Score float64
	// Language the comment was read as.
	Language string
	// Drivers are the words or phrases that moved the score, strongest first.
	Drivers []string
}

// SentimentScorer reads the tone of a comment. The lexicon scorer is one;
// a model-based scorer can replace it behind this interface.
type SentimentScorer interface {
	Sentiment(text, language string) Sentiment
}

// Weights are the composite score's weight per signal; they need not sum to
// 1: only the signals present count, re-weighted to sum to 1.
type Weights struct {
	NPS, CSAT, CES, Servqual, Sentiment, Complaint float64
}

// Config holds the tunable weights.
type Config struct {
	// Servqual weights each dimension in the overall gap.
	Servqual [NumDimensions]float64
	// Experience weights each signal in the composite score.
	Experience Weights
}

// DefaultConfig is documented in docs/scoring.md: SERVQUAL weights are the
// mean importance customers allotted to each dimension in Parasuraman,
// Zeithaml and Berry's studies (reliability highest); the experience weights
// favour the direct questions over inferred signals.
func DefaultConfig() Config {
	return Config{
		Servqual:   [NumDimensions]float64{0.32, 0.22, 0.19, 0.16, 0.11},
		Experience: Weights{NPS: 0.30, CSAT: 0.20, CES: 0.10, Servqual: 0.20, Sentiment: 0.10, Complaint: 0.10},
	}
}

// Gaps are SERVQUAL gaps, perception − expectation (−6…6; negative means the
// service fell short).
type Gaps struct {
	Dimension [NumDimensions]float64
	Rated     [NumDimensions]bool
	// Weighted is the mean gap over the rated dimensions, weighted.
	Weighted float64
	Any      bool
}

// ServqualGaps computes the gaps of the rated dimensions and their weighted
// mean.
func ServqualGaps(r [NumDimensions]Rating, weights [NumDimensions]float64) Gaps {
	var g Gaps
	var sum, wsum float64
	for d := range NumDimensions {
		if !r[d].rated() {
			continue
		}
		gap := float64(r[d].Perception - r[d].Expectation)
		g.Dimension[d], g.Rated[d], g.Any = gap, true, true
		sum += weights[d] * gap
		wsum += weights[d]
	}
	if wsum > 0 {
		g.Weighted = sum / wsum
	}
	return g
}

// ServqualValue maps a gap to 0–100 for the composite score: meeting
// expectations exactly is good (75), exceeding them by the most possible is
// 100, falling short by the most possible is 0.
func ServqualValue(gap float64) float64 {
	if gap >= 0 {
		return 75 + gap/6*25
	}
	return 75 + gap/6*75
}

// SentimentValue maps a sentiment score (−1…1) to 0–100.
func SentimentValue(s float64) float64 { return (s + 1) / 2 * 100 }

// Contribution is one signal's part in the experience score.
type Contribution struct {
	Signal string
	// Value is the signal on 0–100; Weight its re-weighted share (all
	// weights sum to 1); Points = Value × Weight, so the points sum to the
	// experience score.
	Value, Weight, Points float64
}

// Result is everything scoring says about one event.
type Result struct {
	NPSClass      NPSClass
	CSAT, CES     float64 // 0–100, when HasCSAT / HasCES
	HasCSAT       bool
	HasCES        bool
	Gaps          Gaps
	Sentiment     Sentiment
	HasSentiment  bool
	Severity      Severity
	Experience    float64 // 0–100
	Contributions []Contribution
}

// Scorer scores events.
type Scorer struct {
	cfg       Config
	sentiment SentimentScorer
}

// New returns a scorer with the given weights and sentiment scorer.
func New(cfg Config, sentiment SentimentScorer) *Scorer {
	return &Scorer{cfg: cfg, sentiment: sentiment}
}

// Score scores one event.
func (s *Scorer) Score(in Input) Result {
	var r Result
	r.NPSClass = ClassifyNPS(in.NPS)
	if in.CSAT > 0 {
		r.CSAT, r.HasCSAT = NormalizeCSAT(in.CSAT), true
	}
	if in.CES > 0 {
		r.CES, r.HasCES = NormalizeCES(in.CES), true
	}
	r.Gaps = ServqualGaps(in.Servqual, s.cfg.Servqual)
	if in.Comment != "" {
		r.Sentiment, r.HasSentiment = s.sentiment.Sentiment(in.Comment, in.Language), true
	}
	r.Severity = severity(in, r)
	r.Experience, r.Contributions = s.experience(in, r)
	return r
}

// experience is the weighted mean of the signals present, on 0–100.
func (s *Scorer) experience(in Input, r Result) (float64, []Contribution) {
	w := s.cfg.Experience
	parts := make([]Contribution, 0, 6)
	add := func(present bool, signal string, value, weight float64) {
		if present && weight > 0 {
			parts = append(parts, Contribution{Signal: signal, Value: value, Weight: weight})
		}
	}
	add(in.NPS >= 0, "nps", float64(in.NPS)*10, w.NPS)
	add(r.HasCSAT, "csat", r.CSAT, w.CSAT)
	add(r.HasCES, "ces", r.CES, w.CES)
	add(r.Gaps.Any, "servqual", ServqualValue(r.Gaps.Weighted), w.Servqual)
	add(r.HasSentiment, "sentiment", SentimentValue(r.Sentiment.Score), w.Sentiment)
	add(in.Complaint != NoComplaint, "complaint", 0, w.Complaint)

	var total float64
	for _, p := range parts {
		total += p.Weight
	}
	var score float64
	for i := range parts {
		parts[i].Weight /= total
		parts[i].Points = parts[i].Value * parts[i].Weight
		score += parts[i].Points
	}
	return math.Round(score*100) / 100, parts
}

// severity grades the need for recovery. A complaint starts at its
// category's level (safety is always critical); strong dissatisfaction
// (NPS 0–3, CSAT 1, or sentiment ≤ −0.5) raises it one level. Without a
// complaint, strong dissatisfaction alone is low severity.
func severity(in Input, r Result) Severity {
	upset := (in.NPS >= 0 && in.NPS <= 3) || in.CSAT == 1 || (r.HasSentiment && r.Sentiment.Score <= -0.5)
	var s Severity
	switch in.Complaint {
	case NoComplaint:
		if upset {
			return SeverityLow
		}
		return SeverityNone
	case Safety:
		return SeverityCritical
	case Privacy:
		s = SeverityHigh
	case OtherComplaint:
		s = SeverityLow
	default:
		s = SeverityMedium
	}
	if upset {
		s = min(s+1, SeverityCritical)
	}
	return s
}
