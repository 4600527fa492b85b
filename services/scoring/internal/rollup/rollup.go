// Package rollup sums scored feedback into counters and turns counters into
// a report summary. Counters hold only integers, so a sum is exact and does
// not depend on the order events are added in: a bucket in Redis and a
// brute-force sum over the same events agree to the last digit. Formulas are
// in docs/scoring.md ("Reports").
package rollup

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

// Counter indexes. The order is the storage format (see Encode): only ever
// append.
const (
	Responses = iota
	Promoters
	Passives
	Detractors
	CSATSum // raw answers, 1–5
	CSATCount
	CESSum // raw answers, 1–7
	CESCount
	GapSum                                                // + dimension: perception − expectation, per SERVQUAL dimension
	GapCount        = GapSum + int(score.NumDimensions)   // + dimension
	SentimentSum    = GapCount + int(score.NumDimensions) // sentiment × SentimentScale, rounded
	SentimentCount  = SentimentSum + 1
	Complaints      = SentimentCount + 1
	ExperienceSum   = Complaints + 1 // experience score × ExperienceScale, rounded
	ExperienceCount = ExperienceSum + 1
	NumCounters     = ExperienceCount + 1
)

// Fixed-point scales of the counters that sum fractions.
const (
	SentimentScale  = 10_000
	ExperienceScale = 100
)

// Counts are the counters of one group of events.
type Counts [NumCounters]int64

// Event is the counters of one scored event.
func Event(in score.Input, r score.Result) Counts {
	var c Counts
	c[Responses] = 1
	switch r.NPSClass {
	case score.Promoter:
		c[Promoters] = 1
	case score.Passive:
		c[Passives] = 1
	case score.Detractor:
		c[Detractors] = 1
	}
	if in.CSAT > 0 {
		c[CSATSum], c[CSATCount] = int64(in.CSAT), 1
	}
	if in.CES > 0 {
		c[CESSum], c[CESCount] = int64(in.CES), 1
	}
	for d := range int(score.NumDimensions) {
		if r.Gaps.Rated[d] {
			c[GapSum+d], c[GapCount+d] = int64(r.Gaps.Dimension[d]), 1
		}
	}
	if r.HasSentiment {
		c[SentimentSum], c[SentimentCount] = int64(math.Round(r.Sentiment.Score*SentimentScale)), 1
	}
	if in.Complaint != score.NoComplaint {
		c[Complaints] = 1
	}
	c[ExperienceSum], c[ExperienceCount] = int64(math.Round(r.Experience*ExperienceScale)), 1
	return c
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Encode is the storage format: each counter as a little-endian int64, in
// index order (the Lua script adds them with struct.unpack / struct.pack).
func (c Counts) Encode() []byte {
	b := make([]byte, 0, NumCounters*8)
	for _, v := range c {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// Decode reads the storage format. Counters missing at the end (written by
// an older version) are zero; extra ones (from a newer version) are ignored.
// It takes a string, as Redis replies come, to save a copy.
func Decode(s string) (Counts, error) {
	var c Counts
	if len(s)%8 != 0 {
		return c, fmt.Errorf("rollup: %d bytes is not a whole number of counters", len(s))
	}
	for i := 0; i < NumCounters && 8*i < len(s); i++ {
		b := s[8*i : 8*i+8]
		c[i] = int64(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56)
	}
	return c, nil
}

// Summary is what a report says about a group of events. Optional values are
// nil when no event had the signal.
type Summary struct {
	Responses, Promoters, Passives, Detractors, Complaints int64
	// NPS is promoters minus detractors as a share of NPS answers, −100…100;
	// NPSMargin the half-width of its 95% confidence interval.
	NPS, NPSMargin *float64
	// CSAT and CES are mean normalised scores, 0–100 (CES: 100 = least effort).
	CSAT, CES *float64
	// Gaps are the mean gap per dimension; Weighted their weighted mean over
	// the dimensions rated; Weakest the dimension with the lowest mean gap.
	Gaps     [score.NumDimensions]*float64
	Weighted *float64
	Weakest  string
	// Sentiment is the mean comment sentiment, −1…1.
	Sentiment *float64
	// ComplaintRate is complaints per response, 0–1.
	ComplaintRate float64
	// Experience is the mean experience score, 0–100.
	Experience *float64
}

// Summarize computes the summary; weights are the SERVQUAL dimension weights.
func Summarize(c Counts, weights [score.NumDimensions]float64) Summary {
	s := Summary{
		Responses: c[Responses], Promoters: c[Promoters], Passives: c[Passives],
		Detractors: c[Detractors], Complaints: c[Complaints],
	}
	if n := c[Promoters] + c[Passives] + c[Detractors]; n > 0 {
		nps, margin := NPS(c[Promoters], c[Passives], c[Detractors])
		s.NPS, s.NPSMargin = &nps, &margin
	}
	if n := c[CSATCount]; n > 0 {
		s.CSAT = ptr((float64(c[CSATSum])/float64(n) - 1) / 4 * 100)
	}
	if n := c[CESCount]; n > 0 {
		s.CES = ptr((7 - float64(c[CESSum])/float64(n)) / 6 * 100)
	}
	var wsum, wgap float64
	weakest := math.Inf(1)
	for d := range int(score.NumDimensions) {
		n := c[GapCount+d]
		if n == 0 {
			continue
		}
		gap := float64(c[GapSum+d]) / float64(n)
		s.Gaps[d] = &gap
		wgap += weights[d] * gap
		wsum += weights[d]
		if gap < weakest { // ties go to the earlier dimension
			weakest, s.Weakest = gap, score.Dimension(d).String()
		}
	}
	if wsum > 0 {
		s.Weighted = ptr(wgap / wsum)
	}
	if n := c[SentimentCount]; n > 0 {
		s.Sentiment = ptr(float64(c[SentimentSum]) / SentimentScale / float64(n))
	}
	if c[Responses] > 0 {
		s.ComplaintRate = float64(c[Complaints]) / float64(c[Responses])
	}
	if n := c[ExperienceCount]; n > 0 {
		s.Experience = ptr(float64(c[ExperienceSum]) / ExperienceScale / float64(n))
	}
	return s
}

// NPS returns the Net Promoter Score of the answers, −100…100, and the
// half-width of its 95% confidence interval: NPS is the mean of a variable
// that is +1 for a promoter, 0 for a passive and −1 for a detractor, so its
// variance is p + d − (p − d)² for shares p and d, and the margin is
// 1.96 × √(variance / n), in points. Zero answers give 0 ± 0.
func NPS(promoters, passives, detractors int64) (nps, margin float64) {
	n := float64(promoters + passives + detractors)
	if n == 0 {
		return 0, 0
	}
	p, d := float64(promoters)/n, float64(detractors)/n
	variance := p + d - (p-d)*(p-d)
	return (p - d) * 100, 1.96 * math.Sqrt(max(variance, 0)/n) * 100
}

func ptr(v float64) *float64 { return &v }
