package profile

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func buy(id string, days int, amount int64, currency string) Event {
	return Event{ID: id, At: ago(days), Purchase: &Money{Amount: amount, Currency: currency}}
}

func TestApplyAndFacts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		check  func(State, Facts) string
	}{
		{"spend stays in its currency", []Event{buy("a", 10, 100, "USD"), buy("b", 5, 70, "EUR"), buy("c", 1, 30, "USD")},
			func(s State, f Facts) string {
				if f.Monetary != 130 || s.Spend["EUR"] != 70 || s.Purchases != 3 {
					return fmt.Sprintf("monetary %d, spend %v, purchases %d", f.Monetary, s.Spend, s.Purchases)
				}
				return ""
			}},
		{"windows count from now; times are kept for 365 days before the last purchase", []Event{buy("a", 400, 1, "USD"), buy("b", 365, 1, "USD"), buy("c", 364, 1, "USD"), buy("d", 90, 1, "USD"), buy("e", 89, 1, "USD")},
			func(s State, f Facts) string {
				if f.Purchases365d != 3 || f.Purchases90d != 1 || s.Purchases != 5 || len(s.PurchaseTimes) != 5 {
					return fmt.Sprintf("365d %d, 90d %d, purchases %d, kept %d", f.Purchases365d, f.Purchases90d, s.Purchases, len(s.PurchaseTimes))
				}
				return ""
			}},
		{"detractors and complaints in 30 and 90 days", []Event{
			{ID: "a", At: ago(100), Feedback: true, NPS: Detractor, Complaint: true},
			{ID: "b", At: ago(45), Feedback: true, NPS: Detractor},
			{ID: "c", At: ago(2), Feedback: true, NPS: Promoter, Complaint: true},
		}, func(s State, f Facts) string {
			if f.Detractors30d != 0 || f.Detractors90d != 1 || f.Complaints30d != 1 || f.Complaints90d != 1 || s.Feedback != 3 {
				return fmt.Sprintf("%+v", f)
			}
			return ""
		}},
		{"latest NPS by time, then id; satisfaction from the most complete", []Event{
			{ID: "b", At: ago(1), Feedback: true, NPS: Promoter, Satisfaction: 80, Rated: 3},
			{ID: "a", At: ago(1), Feedback: true, NPS: Detractor, Satisfaction: 40, Rated: 2},
			{ID: "c", At: ago(5), Feedback: true, NPS: Passive, Satisfaction: 60, Rated: 1},
			{ID: "d", At: ago(0), Feedback: true}, // no NPS answer, no rolling scores
		}, func(s State, f Facts) string {
			if s.LatestNPS != Promoter || s.LatestNPSID != "b" || f.Satisfaction != 80 || !f.HasSatisfaction {
				return fmt.Sprintf("latest %s (%s), satisfaction %v", s.LatestNPS, s.LatestNPSID, f.Satisfaction)
			}
			return ""
		}},
		{"first and last seen over every kind", []Event{buy("a", 20, 1, "USD"), {ID: "b", At: ago(3), Feedback: true}, {ID: "c", At: ago(40)}},
			func(s State, f Facts) string {
				if !f.FirstSeen.Equal(ago(40)) || !f.LastSeen.Equal(ago(3)) || !f.FirstPurchase.Equal(ago(20)) || !f.LastPurchase.Equal(ago(20)) {
					return fmt.Sprintf("%+v", f)
				}
				return ""
			}},
	} {
		var s State
		for _, e := range tc.events {
			s.Apply(e)
		}
		if msg := tc.check(s, s.Facts(now, "USD")); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

func TestKeptTimesAreBoundedToTheMostRecent(t *testing.T) {
	var s State
	for i := range MaxTimes + 50 {
		s.Apply(Event{ID: fmt.Sprint(i), At: now.Add(-time.Duration(i) * time.Minute), Purchase: &Money{Amount: 1, Currency: "USD"}})
	}
	if len(s.PurchaseTimes) != MaxTimes || s.PurchaseTimes[MaxTimes-1] != now.UnixMilli() || s.Purchases != MaxTimes+50 {
		t.Errorf("kept %d times, newest %d, purchases %d", len(s.PurchaseTimes), s.PurchaseTimes[len(s.PurchaseTimes)-1], s.Purchases)
	}
}

// TestApplyIsOrderInsensitive applies the same events in many orders.
func TestApplyIsOrderInsensitive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	events := make([]Event, 300)
	for i := range events {
		e := Event{ID: fmt.Sprintf("e%d", i), At: ago(rng.IntN(500)).Add(time.Duration(rng.IntN(1000)) * time.Second)}
		switch rng.IntN(3) {
		case 0:
			e.Purchase = &Money{Amount: rng.Int64N(10_000), Currency: []string{"USD", "EUR"}[rng.IntN(2)]}
		case 1:
			e.Feedback, e.NPS, e.Complaint = true, NPS(rng.IntN(4)), rng.IntN(3) == 0
			e.Satisfaction, e.Trend, e.Rated = rng.Float64()*100, rng.Float64(), int64(i+1)
		}
		events[i] = e
	}
	var want State
	for _, e := range events {
		want.Apply(e)
	}
	for round := range 20 {
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		var got State
		for _, e := range events {
			got.Apply(e)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d gives another state:\n%+v\n%+v", round, got, want)
		}
	}
}

func TestStateEncodingRoundTrips(t *testing.T) {
	var s State
	for _, e := range []Event{buy("a", 400, 100, "USD"), buy("b", 3, 7, "JPY"), {ID: "c", At: ago(2), Feedback: true, NPS: Detractor, Complaint: true, Satisfaction: 12.5, Trend: -4, Rated: 9}} {
		s.Apply(e)
	}
	for _, st := range []State{{}, s} {
		b := append(st.AppendBinary(nil), "rest"...)
		got, rest, err := DecodeState(b)
		if err != nil || string(rest) != "rest" || !reflect.DeepEqual(got, st) {
			t.Errorf("round trip: %+v, %q, %v; want %+v", got, rest, err, st)
		}
		for cut := range len(b) - len("rest") {
			if _, _, err := DecodeState(b[:cut]); err == nil {
				t.Errorf("a state cut to %d bytes decodes", cut)
			}
		}
	}
}

func TestNextChange(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name string
		f    Facts
		want time.Time
	}{
		{"recency 5 ends 7 days after the last purchase", Facts{FirstSeen: ago(400), LastSeen: ago(3), FirstPurchase: ago(400), LastPurchase: ago(7).Add(12 * time.Hour), Purchases: 2},
			now.Add(12*time.Hour + time.Millisecond)},
		{"no boundary within a day: a day later", Facts{FirstSeen: ago(400), LastSeen: ago(100), FirstPurchase: ago(400), LastPurchase: ago(100), Purchases: 2},
			now.Add(day)},
		{"the end of being new", Facts{FirstSeen: now.Add(-30*day + time.Hour), LastSeen: now}, now.Add(time.Hour + time.Millisecond)},
		{"a weekly buyer becomes two intervals overdue", Facts{FirstSeen: ago(70), LastSeen: ago(13), FirstPurchase: ago(70), LastPurchase: ago(14).Add(2 * time.Hour), Purchases: 9},
			now.Add(150*time.Minute + time.Millisecond)}, // twice the interval, (56 days + 2h) / 8
	} {
		if got := c.NextChange(tc.f, now); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLoadConfigs(t *testing.T) {
	cs, err := LoadConfigs(strings.NewReader(`
default:
  currency: CNY
  churn_weights: {bias: -2.5}
tenants:
  luxury:
    monetary: [100000, 500000, 2000000, 10000000]
    rhythm: 2160h
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lux, other := cs.For("luxury"), cs.For("coffee")
	if other.Currency != "CNY" || other.ChurnWeights.Bias != -2.5 || other.ChurnWeights.Overdue != Default().ChurnWeights.Overdue || other.Monetary != Default().Monetary {
		t.Errorf("default = %+v", other)
	}
	if lux.Currency != "CNY" || lux.Monetary[3] != 10_000_000 || lux.Rhythm != 90*day || lux.Frequency != Default().Frequency {
		t.Errorf("luxury = %+v", lux)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"default: {currency: usd}", `default: currency "usd"`},
		{"tenants: {t: {recency_days: [30, 7, 90, 180]}}", `tenant "t": recency_days`},
		{"default: {rhythm: 10m}", "rhythm must be at least 1h"},
		{"default: {curency: USD}", "field curency not found"},
	} {
		if _, err := LoadConfigs(strings.NewReader(bad.yaml), "bad.yaml"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}
