package profile

import (
	"testing"
	"time"
)

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func ago(days int) time.Time { return now.Add(-time.Duration(days) * day) }

// regular is a customer who has bought every 30 days for two years, last
// time 10 days ago, and is satisfied.
func regular() Facts {
	return Facts{
		FirstSeen: ago(730), LastSeen: ago(10), FirstPurchase: ago(730), LastPurchase: ago(10),
		Purchases: 25, Purchases90d: 3, Purchases365d: 12, Monetary: 120_000,
		Satisfaction: 85, HasSatisfaction: true,
	}
}

func TestScoreRFM(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name string
		f    Facts
		want RFM
	}{
		{"no purchases", Facts{FirstSeen: ago(3)}, RFM{1, 1, 1}},
		{"bought today, once, small", Facts{LastPurchase: now, Purchases365d: 1, Monetary: 1_000}, RFM{5, 1, 1}},
		{"boundaries are inclusive", Facts{LastPurchase: ago(7), Purchases365d: 2, Monetary: 5_000}, RFM{5, 2, 2}},
		{"just past a boundary", Facts{LastPurchase: ago(8), Purchases365d: 3, Monetary: 4_999}, RFM{4, 2, 1}},
		{"regular", regular(), RFM{4, 4, 4}},
		{"long gone big spender", Facts{LastPurchase: ago(400), Purchases365d: 0, Monetary: 900_000}, RFM{1, 1, 5}},
		{"champion", Facts{LastPurchase: ago(1), Purchases365d: 40, Monetary: 500_000}, RFM{5, 5, 5}},
	} {
		if got := c.ScoreRFM(tc.f, now); got != tc.want {
			t.Errorf("%s: RFM = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// A tenant of luxury customers sets its own boundaries.
	lux := Default()
	lux.Monetary = [4]int64{1_000_000, 5_000_000, 20_000_000, 100_000_000}
	if got := lux.ScoreRFM(regular(), now).Monetary; got != 1 {
		t.Errorf("regular at a luxury tenant: monetary %d, want 1", got)
	}
}

func TestChurnOrdersObviousCustomers(t *testing.T) {
	c := Default()
	overdue := regular()
	overdue.LastPurchase, overdue.LastSeen, overdue.Purchases90d = ago(100), ago(100), 0
	unhappy := regular()
	unhappy.Satisfaction, unhappy.Trend, unhappy.Detractors90d, unhappy.Complaints90d = 20, -30, 2, 2
	both := overdue
	both.Satisfaction, both.Trend, both.Detractors90d, both.Complaints90d = 20, -30, 2, 2
	// From safest to riskiest.
	order := []struct {
		name string
		f    Facts
	}{{"regular and happy", regular()}, {"unhappy", unhappy}, {"overdue", overdue}, {"overdue and unhappy", both}}
	prev := -1.0
	for _, o := range order {
		risk, reasons := c.Churn(o.f, now)
		if risk <= prev || risk < 0 || risk > 1 {
			t.Errorf("%s: risk %.3f, want more than the previous %.3f", o.name, risk, prev)
		}
		prev = risk
		for i := 1; i < len(reasons); i++ {
			if reasons[i].Contribution > reasons[i-1].Contribution || reasons[i].Contribution <= 0 {
				t.Errorf("%s: reasons not largest first and positive: %+v", o.name, reasons)
			}
		}
	}
	if risk, _ := c.Churn(regular(), now); risk > 0.1 {
		t.Errorf("regular, happy customer: risk %.3f, want under 0.1", risk)
	}
	risk, reasons := c.Churn(both, now) // 100 days quiet, against a rhythm of (730−100)/24 days
	if risk < 0.9 || len(reasons) != MaxReasons || reasons[0].Code != "recency_vs_rhythm" ||
		reasons[0].Description != "next purchase overdue: 3.8× their usual interval since the last" {
		t.Errorf("overdue and unhappy: risk %.3f, reasons %+v; want over 0.9, recency first, %d described", risk, reasons, MaxReasons)
	}
}

// TestChurnIsMonotone moves one feature at a time in its risky direction.
func TestChurnIsMonotone(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name string
		step func(f *Facts, i int)
	}{
		{"days since last purchase", func(f *Facts, i int) { f.LastPurchase = ago(10 + 20*i) }},
		{"fewer purchases lately", func(f *Facts, i int) { f.Purchases90d = int64(max(3-i, 0)) }},
		{"lower satisfaction", func(f *Facts, i int) { f.Satisfaction = 85 - 15*float64(i) }},
		{"falling satisfaction", func(f *Facts, i int) { f.Trend = -5 * float64(i) }},
		{"more detractor answers", func(f *Facts, i int) { f.Detractors90d = int64(i) }},
		{"more complaints", func(f *Facts, i int) { f.Complaints90d = int64(i) }},
	} {
		prev := -1.0
		for i := range 4 {
			f := regular()
			tc.step(&f, i)
			risk, _ := c.Churn(f, now)
			if risk <= prev {
				t.Errorf("%s, step %d: risk %.4f did not rise from %.4f", tc.name, i, risk, prev)
			}
			prev = risk
		}
	}
}

func TestRhythmIsTheCustomersOwn(t *testing.T) {
	c := Default()
	// Both last bought 60 days ago: late for a weekly buyer, on time for a
	// bimonthly one.
	weekly := Facts{FirstSeen: ago(400), LastSeen: ago(60), FirstPurchase: ago(400), LastPurchase: ago(60), Purchases: 49, Purchases365d: 44}
	bimonthly := Facts{FirstSeen: ago(400), LastSeen: ago(60), FirstPurchase: ago(360), LastPurchase: ago(60), Purchases: 6, Purchases365d: 6, Purchases90d: 1}
	w, _ := c.Churn(weekly, now)
	b, _ := c.Churn(bimonthly, now)
	if w <= b {
		t.Errorf("weekly buyer 60 days quiet: %.3f, bimonthly: %.3f; want weekly riskier", w, b)
	}
}

func TestLifecycle(t *testing.T) {
	c := Default()
	with := func(f Facts, change func(*Facts)) Facts { change(&f); return f }
	for _, tc := range []struct {
		name string
		f    Facts
		want Stage
	}{
		{"first seen last week", Facts{FirstSeen: ago(7), LastSeen: ago(7)}, New},
		{"new and bought", Facts{FirstSeen: ago(7), LastSeen: ago(2), FirstPurchase: ago(2), LastPurchase: ago(2), Purchases: 1, Purchases90d: 1, Purchases365d: 1}, New},
		{"regular for two years", regular(), Loyal},
		{"regular, but only a year's tenure of 4 purchases", with(regular(), func(f *Facts) { f.Purchases365d, f.Purchases90d = 4, 1 }), Active},
		{"buying less lately", with(regular(), func(f *Facts) { f.Purchases90d = 1 }), Declining},
		{"satisfaction falling fast", with(regular(), func(f *Facts) { f.Trend = -12 }), Declining},
		{"overdue 2.5 intervals", with(regular(), func(f *Facts) { f.LastPurchase, f.LastSeen = ago(75), ago(75) }), Declining},
		{"overdue 5 intervals", with(regular(), func(f *Facts) { f.LastPurchase = ago(150) }), Lapsed},
		{"silent for 200 days", Facts{FirstSeen: ago(400), LastSeen: ago(200)}, Lapsed},
	} {
		if got := c.Lifecycle(tc.f, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkEvaluate is RFM, churn risk and lifecycle for one customer:
//
//	go test -run '^$' -bench Evaluate -cpu 1 ./internal/profile
func BenchmarkEvaluate(b *testing.B) {
	c, f := Default(), regular()
	f.Satisfaction, f.Trend, f.Complaints90d = 55, -8, 1
	b.ReportAllocs()
	for b.Loop() {
		_ = c.ScoreRFM(f, now)
		_, _ = c.Churn(f, now)
		_ = c.Lifecycle(f, now)
	}
}
