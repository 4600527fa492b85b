// Package profile is segmentation's domain: from what is known about a
// customer (their facts) it computes RFM scores, churn risk with its
// reasons, and the lifecycle stage. Pure functions of the facts and the
// evaluation time, no I/O; every default is in Default.
package profile

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

const day = 24 * time.Hour

// Facts are what segmentation keeps about a customer, as of an evaluation.
type Facts struct {
	FirstSeen, LastSeen time.Time
	// FirstPurchase and LastPurchase are zero without purchases.
	FirstPurchase, LastPurchase time.Time
	Purchases                   int64
	// Purchases90d and Purchases365d count purchases in the last 90 and 365
	// days before the evaluation.
	Purchases90d, Purchases365d int64
	// Monetary is the total spend in the tenant's currency, minor units.
	Monetary int64
	// Satisfaction is the decayed satisfaction (0–100) and Trend its trend,
	// from the scored feedback; HasSatisfaction is false before any.
	Satisfaction, Trend float64
	HasSatisfaction     bool
	// Detractor answers and complaints in the last 30 and 90 days.
	Detractors30d, Detractors90d int64
	Complaints30d, Complaints90d int64
}

// Config holds the per-tenant boundaries and model weights.
type Config struct {
	// Currency is the tenant's currency (ISO 4217): monetary value sums
	// purchases in it; other currencies are kept apart, never mixed in.
	Currency string
	// Recency scores 5…2 go to a last purchase at most this many days ago;
	// older is 1.
	RecencyDays [4]int
	// Frequency scores 2…5 need at least this many purchases in 365 days;
	// fewer is 1.
	Frequency [4]int64
	// Monetary scores 2…5 need at least this total spend (minor units).
	Monetary [4]int64
	// Rhythm is the purchase interval assumed for a customer with fewer than
	// two purchases.
	Rhythm       time.Duration
	ChurnWeights ChurnWeights
	// NewFor is how long a customer counts as new; LapsedAfter how long
	// without any activity makes them lapsed.
	NewFor, LapsedAfter time.Duration
	// LoyalPurchases in 365 days, with at least LoyalTenure since first seen,
	// make a customer loyal.
	LoyalPurchases int64
	LoyalTenure    time.Duration
}

// ChurnWeights are the logistic model's bias and feature weights.
type ChurnWeights struct {
	Bias, Overdue, FrequencyDrop, Dissatisfaction, FallingSatisfaction, Detractors, Complaints float64
}

// Default is documented in docs/segmentation.md.
func Default() Config {
	return Config{
		Currency:       "USD",
		RecencyDays:    [4]int{7, 30, 90, 180},
		Frequency:      [4]int64{2, 4, 8, 16},
		Monetary:       [4]int64{5_000, 20_000, 100_000, 500_000},
		Rhythm:         60 * day,
		ChurnWeights:   ChurnWeights{Bias: -3, Overdue: 0.9, FrequencyDrop: 1.5, Dissatisfaction: 2, FallingSatisfaction: 1, Detractors: 1.2, Complaints: 1},
		NewFor:         30 * day,
		LapsedAfter:    180 * day,
		LoyalPurchases: 6,
		LoyalTenure:    180 * day,
	}
}

// RFM are recency, frequency and monetary scores, each 1 (worst) to 5.
type RFM struct{ Recency, Frequency, Monetary int }

// ScoreRFM scores f at now. A customer without purchases has recency 1.
func (c Config) ScoreRFM(f Facts, now time.Time) RFM {
	r := RFM{Recency: 1, Frequency: 1, Monetary: 1}
	if !f.LastPurchase.IsZero() {
		ago := now.Sub(f.LastPurchase)
		for i, d := range c.RecencyDays {
			if ago <= time.Duration(d)*day {
				r.Recency = 5 - i
				break
			}
		}
	}
	for i, min := range c.Frequency {
		if f.Purchases365d >= min {
			r.Frequency = 2 + i
		}
	}
	for i, min := range c.Monetary {
		if f.Monetary >= min {
			r.Monetary = 2 + i
		}
	}
	return r
}

// Reason explains one part of a decision.
type Reason struct {
	Code, Description string
	// Contribution is the reason's part (for churn: its term of the logit).
	Contribution float64
}

// features are the churn model's inputs, each scaled to about 0…1 (overdue
// to 0…6).
type features struct {
	overdue, frequencyDrop, dissatisfaction, falling, detractors, complaints float64
}

// rhythm is the customer's mean interval between purchases.
func (c Config) rhythm(f Facts) time.Duration {
	if f.Purchases < 2 || !f.LastPurchase.After(f.FirstPurchase) {
		return c.Rhythm
	}
	return f.LastPurchase.Sub(f.FirstPurchase) / time.Duration(f.Purchases-1)
}

func (c Config) features(f Facts, now time.Time) features {
	var x features
	if !f.LastPurchase.IsZero() {
		x.overdue = min(float64(now.Sub(f.LastPurchase))/float64(c.rhythm(f)), 6)
	} else if !f.FirstSeen.IsZero() {
		x.overdue = min(float64(now.Sub(f.FirstSeen))/float64(c.Rhythm), 6)
	}
	if quarter := float64(f.Purchases365d) / 4; quarter > 0 {
		x.frequencyDrop = max(0, (quarter-float64(f.Purchases90d))/quarter)
	}
	if f.HasSatisfaction {
		x.dissatisfaction = clamp01((100 - f.Satisfaction) / 100)
		x.falling = clamp01(-f.Trend / 20)
	}
	x.detractors = min(float64(f.Detractors90d), 3) / 3
	x.complaints = min(float64(f.Complaints90d), 3) / 3
	return x
}

func clamp01(v float64) float64 { return min(max(v, 0), 1) }

// MaxReasons is how many reasons Churn returns.
const MaxReasons = 3

// Churn is the estimated probability, 0…1, that the customer leaves: a
// logistic model over how overdue their next purchase is against their own
// rhythm, the drop in purchase frequency, dissatisfaction, falling
// satisfaction, and detractor answers and complaints in 90 days. Reasons are
// the (at most MaxReasons) features that raised the risk most, largest
// first.
func (c Config) Churn(f Facts, now time.Time) (float64, []Reason) {
	x, w := c.features(f, now), c.ChurnWeights
	terms := [...]Reason{
		{Code: "recency_vs_rhythm", Contribution: w.Overdue * x.overdue},
		{Code: "frequency_drop", Contribution: w.FrequencyDrop * x.frequencyDrop},
		{Code: "dissatisfied", Contribution: w.Dissatisfaction * x.dissatisfaction},
		{Code: "satisfaction_falling", Contribution: w.FallingSatisfaction * x.falling},
		{Code: "detractor", Contribution: w.Detractors * x.detractors},
		{Code: "complaints", Contribution: w.Complaints * x.complaints},
	}
	z := w.Bias
	for _, t := range terms {
		z += t.Contribution
	}
	reasons := slices.DeleteFunc(terms[:], func(r Reason) bool { return r.Contribution <= 0 })
	slices.SortStableFunc(reasons, func(a, b Reason) int { return cmp.Compare(b.Contribution, a.Contribution) })
	reasons = reasons[:min(len(reasons), MaxReasons)]
	for i := range reasons { // described only when returned: formatting is the costly part
		reasons[i].Description = describe(reasons[i].Code, f, x)
	}
	return 1 / (1 + math.Exp(-z)), reasons
}

func describe(code string, f Facts, x features) string {
	switch code {
	case "recency_vs_rhythm":
		if f.LastPurchase.IsZero() {
			return fmt.Sprintf("no purchase yet: %.1f× the usual interval since first seen", x.overdue)
		}
		return fmt.Sprintf("next purchase overdue: %.1f× their usual interval since the last", x.overdue)
	case "frequency_drop":
		return fmt.Sprintf("bought %.0f%% less often in the last 90 days than their yearly pace", 100*x.frequencyDrop)
	case "dissatisfied":
		return fmt.Sprintf("satisfaction %.0f of 100", f.Satisfaction)
	case "satisfaction_falling":
		return fmt.Sprintf("satisfaction trend %+.0f", f.Trend)
	case "detractor":
		return counted(f.Detractors90d, "detractor answer") + " in 90 days"
	}
	return counted(f.Complaints90d, "complaint") + " in 90 days"
}

// counted is "1 thing" or "n things".
func counted(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Stage is a lifecycle stage.
type Stage int

// Lifecycle stages, in the order of the API's enum.
const (
	NoStage Stage = iota
	New
	Active
	Loyal
	Declining
	Lapsed
)

var stageNames = [...]string{"unspecified", "new", "active", "loyal", "declining", "lapsed"}

func (s Stage) String() string { return stageNames[s] }

// Lifecycle places the customer, first rule that holds: lapsed (no
// activity for LapsedAfter, or a purchase more than four intervals
// overdue), new (first seen within NewFor), declining (two intervals
// overdue, purchases in 90 days under half the yearly pace, or satisfaction
// falling by 10 points or more), loyal (LoyalPurchases in 365 days over at
// least LoyalTenure), otherwise active.
func (c Config) Lifecycle(f Facts, now time.Time) Stage {
	x := c.features(f, now)
	switch {
	case now.Sub(f.LastSeen) > c.LapsedAfter || (!f.LastPurchase.IsZero() && x.overdue > 4):
		return Lapsed
	case now.Sub(f.FirstSeen) <= c.NewFor:
		return New
	case x.overdue > 2 || x.frequencyDrop > 0.5 || (f.HasSatisfaction && f.Trend <= -10):
		return Declining
	case f.Purchases365d >= c.LoyalPurchases && now.Sub(f.FirstSeen) >= c.LoyalTenure:
		return Loyal
	}
	return Active
}

// refresh is the longest a customer goes without being evaluated again:
// churn risk and the windowed counts drift with time between boundaries.
const refresh = day

// NextChange is the first moment after now at which the customer's RFM
// recency or lifecycle stage can change without a new event (a recency
// boundary, the end of being new, lapsing, being two or four intervals
// overdue), and at the latest a day after now.
func (c Config) NextChange(f Facts, now time.Time) time.Time {
	next := now.Add(refresh)
	consider := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	if !f.LastPurchase.IsZero() {
		for _, d := range c.RecencyDays {
			consider(f.LastPurchase.Add(time.Duration(d)*day + time.Millisecond))
		}
		rhythm := c.rhythm(f)
		consider(f.LastPurchase.Add(2*rhythm + time.Millisecond))
		consider(f.LastPurchase.Add(4*rhythm + time.Millisecond))
	}
	consider(f.FirstSeen.Add(c.NewFor + time.Millisecond))
	consider(f.LastSeen.Add(c.LapsedAfter + time.Millisecond))
	return next
}
