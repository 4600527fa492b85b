package traffic_test

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/cmd/internal/traffic"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// generate returns n events from cfg, one millisecond apart.
func generate(t *testing.T, cfg traffic.Config, n int) []traffic.Event {
	t.Helper()
	g, err := traffic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]traffic.Event, n)
	for i := range out {
		out[i] = g.Next(t0.Add(time.Duration(i) * time.Millisecond))
	}
	return out
}

var typical = traffic.Config{Seed: 7, Customers: 1000, PurchaseShare: .3, DuplicateRate: .02, InvalidRate: .02}

func TestSameSeedSameEvents(t *testing.T) {
	other := typical
	other.Seed = 8
	tests := []struct {
		name string
		a, b traffic.Config
		same bool
	}{
		{"same seed", typical, typical, true},
		{"other seed", typical, other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := generate(t, tt.a, 5000), generate(t, tt.b, 5000)
			var equal, sharedIDs int
			for i := range a {
				if a[i].Kind == b[i].Kind && proto.Equal(a[i].Feedback, b[i].Feedback) && proto.Equal(a[i].Activity, b[i].Activity) {
					equal++
				}
				if a[i].EventID() == b[i].EventID() {
					sharedIDs++
				}
			}
			if tt.same && equal != len(a) {
				t.Errorf("%d of %d events equal, want all", equal, len(a))
			}
			if !tt.same && (equal > 0 || sharedIDs > 0) {
				t.Errorf("%d events equal and %d ids shared, want none", equal, sharedIDs)
			}
		})
	}
}

func TestEventIDsAndTimes(t *testing.T) {
	events := generate(t, typical, 100_000)
	seen := map[string]traffic.Event{}
	for i, ev := range events {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		id := ev.EventID()
		switch ev.Kind {
		case traffic.KindDuplicate:
			orig, ok := seen[id]
			if !ok || !proto.Equal(orig.Feedback, ev.Feedback) || !proto.Equal(orig.Activity, ev.Activity) {
				t.Fatalf("event %d: duplicate %s does not repeat an earlier valid event", i, id)
			}
			continue
		case traffic.KindFeedback, traffic.KindPurchase:
			if got := occurredAt(ev); !got.Equal(at) {
				t.Fatalf("event %d: occurred_at = %v, want %v", i, got, at)
			}
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("event %d: id %s used twice", i, id)
		}
		seen[id] = ev
		if (ev.Feedback == nil) == (ev.Activity == nil) {
			t.Fatalf("event %d: want exactly one of feedback and activity: %+v", i, ev)
		}
	}
}

func occurredAt(ev traffic.Event) time.Time {
	if ev.Feedback != nil {
		return ev.Feedback.OccurredAt.AsTime()
	}
	return ev.Activity.OccurredAt.AsTime()
}

func TestRates(t *testing.T) {
	tests := []struct {
		name string
		cfg  traffic.Config
	}{
		{"typical", typical},
		{"clean", traffic.Config{Seed: 1, Customers: 500, PurchaseShare: .5}},
		{"dirty", traffic.Config{Seed: 2, Customers: 50_000, PurchaseShare: .1, DuplicateRate: .2, InvalidRate: .1}},
		{"feedback only", traffic.Config{Seed: 3, Customers: 1, DuplicateRate: .05, InvalidRate: .01}},
	}
	const n = 100_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds := map[traffic.Kind]int{}
			var feedback, complaints int
			for _, ev := range generate(t, tt.cfg, n) {
				kinds[ev.Kind]++
				if ev.Kind == traffic.KindFeedback {
					feedback++
					if ev.Feedback.Complaint != nil {
						complaints++
					}
				}
			}
			fresh := float64(kinds[traffic.KindFeedback] + kinds[traffic.KindPurchase])
			within(t, "invalid rate", float64(kinds[traffic.KindInvalid])/n, tt.cfg.InvalidRate, n)
			within(t, "duplicate rate", float64(kinds[traffic.KindDuplicate])/n, tt.cfg.DuplicateRate, n)
			within(t, "purchase share", float64(kinds[traffic.KindPurchase])/fresh, tt.cfg.PurchaseShare, int(fresh))
			if rate := float64(complaints) / float64(feedback); tt.cfg.Customers > 1 && (rate < .01 || rate > .06) {
				t.Errorf("complaint rate = %.3f, want a few %%", rate)
			}
		})
	}
}

// within checks that an observed share of n draws is within four standard
// errors of want.
func within(t *testing.T, name string, got, want float64, n int) {
	t.Helper()
	if tol := 4*math.Sqrt(want*(1-want)/float64(n)) + 1e-9; math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", name, got, want, tol)
	}
}

// tally is what one persona's events added up to.
type tally struct {
	customers            map[string]bool
	feedback, complaints int
	npsSum, npsN         float64
	csatSum, csatN       float64
	purchases            int
	spend                int64
	amounts              []float64 // of purchases, in dollars
}

func tallies(events []traffic.Event) map[traffic.Persona]*tally {
	out := map[traffic.Persona]*tally{}
	for _, p := range traffic.Personas() {
		out[p] = &tally{customers: map[string]bool{}}
	}
	for _, ev := range events {
		s := out[ev.Persona]
		s.customers[ev.CustomerID()] = true
		switch ev.Kind {
		case traffic.KindPurchase:
			s.purchases++
			s.spend += ev.Activity.Purchase.Amount.AmountMinor
			s.amounts = append(s.amounts, float64(ev.Activity.Purchase.Amount.AmountMinor)/100)
		case traffic.KindFeedback:
			fb := ev.Feedback
			s.feedback++
			if fb.Complaint != nil {
				s.complaints++
			}
			if fb.Nps != nil {
				s.npsSum, s.npsN = s.npsSum+float64(*fb.Nps), s.npsN+1
			}
			if fb.Csat != nil {
				s.csatSum, s.csatN = s.csatSum+float64(*fb.Csat), s.csatN+1
			}
		}
	}
	return out
}

func TestPersonasShapeBehaviour(t *testing.T) {
	s := tallies(generate(t, typical, 100_000))
	loyal, price, churn := s[traffic.PersonaLoyal], s[traffic.PersonaPriceSensitive], s[traffic.PersonaAboutToChurn]
	perCustomer := func(t *tally, n int) float64 { return float64(n) / float64(len(t.customers)) }
	tests := []struct {
		name        string
		high, low   float64
		minimumGap  float64
		description string
	}{
		{"mean NPS", loyal.npsSum / loyal.npsN, churn.npsSum / churn.npsN, 4, "loyal vs about-to-churn"},
		{"mean CSAT", loyal.csatSum / loyal.csatN, churn.csatSum / churn.csatN, 1.5, "loyal vs about-to-churn"},
		{"complaint rate", float64(churn.complaints) / float64(churn.feedback), float64(loyal.complaints) / float64(loyal.feedback), .05, "about-to-churn vs loyal"},
		{"purchases per customer", perCustomer(loyal, loyal.purchases), perCustomer(churn, churn.purchases), 5, "loyal vs about-to-churn"},
		// The median, as a few big spenders dominate any mean.
		{"median order value ($)", median(loyal.amounts), median(price.amounts), 10, "loyal vs price-sensitive"},
	}
	for _, tt := range tests {
		if tt.high-tt.low < tt.minimumGap {
			t.Errorf("%s, %s: %.3f vs %.3f, want a gap of at least %v", tt.name, tt.description, tt.high, tt.low, tt.minimumGap)
		}
	}
	for p, s := range s {
		if s.npsN > 0 {
			t.Logf("%-16s customers %4d  feedback %5d  mean NPS %4.1f  complaints %4.1f%%  purchases %5d  order mean $%6.2f median $%6.2f",
				p, len(s.customers), s.feedback, s.npsSum/s.npsN, 100*float64(s.complaints)/float64(s.feedback), s.purchases,
				float64(s.spend)/float64(max(s.purchases, 1))/100, median(s.amounts))
		}
	}
}

func TestDecliningCustomersSour(t *testing.T) {
	// NPS answers of declining customers by how many feedbacks they had
	// given before: the first ones are happy, later ones not.
	var early, late []float64
	given := map[string]int{}
	for _, ev := range generate(t, traffic.Config{Seed: 5, Customers: 200}, 50_000) {
		if ev.Kind != traffic.KindFeedback {
			continue
		}
		n := given[ev.CustomerID()]
		given[ev.CustomerID()]++
		if ev.Persona != traffic.PersonaDeclining || ev.Feedback.Nps == nil || ev.Feedback.Complaint != nil {
			continue
		}
		switch {
		case n < 3:
			early = append(early, float64(*ev.Feedback.Nps))
		case n >= 12:
			late = append(late, float64(*ev.Feedback.Nps))
		}
	}
	if e, l := mean(early), mean(late); e-l < 3 {
		t.Errorf("declining customers' mean NPS: first answers %.1f, after twelve %.1f; want a fall of at least 3", e, l)
	}
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestSpendIsParetoLike(t *testing.T) {
	spend := map[string]int64{}
	for _, ev := range generate(t, traffic.Config{Seed: 9, Customers: 2000, PurchaseShare: 1}, 100_000) {
		spend[ev.CustomerID()] += ev.Activity.Purchase.Amount.AmountMinor
	}
	var all []int64
	var total int64
	for _, s := range spend {
		all, total = append(all, s), total+s
	}
	slices.SortFunc(all, func(a, b int64) int { return cmp.Compare(b, a) })
	var top int64
	for _, s := range all[:len(all)/5] {
		top += s
	}
	share := float64(top) / float64(total)
	if share < .6 || share > .95 {
		t.Errorf("top fifth of customers spend %.0f%% of the total, want 60-95%%", 100*share)
	}
	t.Logf("the top fifth of customers spend %.0f%% of the total", 100*share)
}

func TestCommentsInBothLanguages(t *testing.T) {
	langs := map[string]int{}
	for _, ev := range generate(t, typical, 20_000) {
		if ev.Kind == traffic.KindFeedback && ev.Feedback.Comment != nil {
			lang := "en"
			for _, r := range ev.Feedback.Comment.Text {
				if r > 0x3000 {
					lang = "zh"
					break
				}
			}
			langs[lang]++
		}
	}
	if langs["en"] < 2*langs["zh"] || langs["zh"] == 0 {
		t.Errorf("comments by language = %v, want mostly English and some Chinese", langs)
	}
}

// TestIntakeValidity holds every event to intake.proto's rules: valid
// kinds pass, invalid ones fail, and every kind of flaw shows up.
func TestIntakeValidity(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	flaws := map[string]int{}
	for i, ev := range generate(t, traffic.Config{Seed: 11, Customers: 300, PurchaseShare: .3, DuplicateRate: .1, InvalidRate: .2}, 20_000) {
		var req proto.Message = &intakev1.SubmitFeedbackRequest{Feedback: ev.Feedback}
		if ev.Activity != nil {
			req = &intakev1.RecordActivityRequest{Activity: ev.Activity}
		}
		err := v.Validate(req)
		if ev.Kind == traffic.KindInvalid {
			flaws[ev.Flaw]++
			if err == nil {
				t.Fatalf("event %d (%s) passes validation: %v", i, ev.Flaw, req)
			}
		} else if err != nil {
			t.Fatalf("event %d (%s): %v\n%v", i, ev.Kind, err, req)
		}
	}
	if len(flaws) < 12 {
		t.Errorf("flaws seen = %v, want all twelve", flaws)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  traffic.Config
	}{
		{"no customers", traffic.Config{}},
		{"negative rate", traffic.Config{Customers: 1, DuplicateRate: -.1}},
		{"share above one", traffic.Config{Customers: 1, PurchaseShare: 1.5}},
		{"rates above one together", traffic.Config{Customers: 1, DuplicateRate: .6, InvalidRate: .6}},
		{"not a number", traffic.Config{Customers: 1, InvalidRate: math.NaN()}},
	}
	for _, tt := range tests {
		if _, err := traffic.New(tt.cfg); err == nil {
			t.Errorf("%s: New(%+v) succeeded, want an error", tt.name, tt.cfg)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	g, err := traffic.New(typical)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		g.Next(t0)
	}
}

// TestCustomersAreStable checks that a customer is the same person in every
// run: whatever the seed and the population size.
func TestCustomersAreStable(t *testing.T) {
	personas := func(cfg traffic.Config) map[string]traffic.Persona {
		out := map[string]traffic.Persona{}
		for _, ev := range generate(t, cfg, 5000) {
			out[ev.CustomerID()] = ev.Persona
		}
		return out
	}
	a := personas(traffic.Config{Seed: 1, Customers: 50, PurchaseShare: .5})
	b := personas(traffic.Config{Seed: 2, Customers: 5000, PurchaseShare: .5})
	shared := 0
	for id, p := range a {
		if q, ok := b[id]; ok {
			shared++
			if p != q {
				t.Errorf("customer %s is %s in one run and %s in another", id, p, q)
			}
		}
	}
	if shared < 10 {
		t.Errorf("only %d customers shared, want more to compare", shared)
	}
}
