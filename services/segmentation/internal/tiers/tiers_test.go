package tiers

import (
	"strings"
	"testing"
)

// champion is a recent, frequent, big spender with nothing wrong.
func champion() Vars {
	return Vars{Recency: 5, Frequency: 5, Monetary: 5, ChurnRisk: 0.05, Lifecycle: "loyal", LatestNPS: "promoter",
		Satisfaction: 90, HasSatisfaction: true, Purchases: 40, Purchases90d: 6, Purchases365d: 24}
}

func TestDefaultRules(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(*Vars)) Vars { v := champion(); change(&v); return v }
	for _, tc := range []struct {
		name  string
		v     Vars
		tier  string
		level string
	}{
		{"champion", champion(), "champion", "high"},
		{"a champion who just became a detractor", with(func(v *Vars) { v.LatestNPS = "detractor" }), "at-risk", "high"},
		{"a champion who complained", with(func(v *Vars) { v.Complaints90d = 1 }), "at-risk", "high"},
		{"a big spender gone quiet", with(func(v *Vars) { v.Recency = 2 }), "cannot-lose", "high"},
		{"valuable, likely to leave", with(func(v *Vars) { v.Frequency, v.ChurnRisk = 3, 0.7 }), "at-risk", "high"},
		{"valuable, quiet for 90 to 180 days", with(func(v *Vars) { v.Frequency, v.Recency = 3, 2 }), "at-risk", "high"},
		{"valuable, nothing for a year: lost, not at-risk for ever", with(func(v *Vars) {
			v.Recency, v.Frequency, v.ChurnRisk, v.Lifecycle, v.LatestNPS = 1, 1, 0.95, "lapsed", "detractor"
		}), "lost", "high"},
		{"frequent, middling spend", with(func(v *Vars) { v.Monetary, v.Recency = 2, 3 }), "loyal", "medium"},
		{"new", Vars{Recency: 5, Frequency: 1, Monetary: 1, Lifecycle: "new"}, "new", "low"},
		{"recent, seldom", Vars{Recency: 4, Frequency: 2, Monetary: 2, Lifecycle: "active"}, "potential", "medium"},
		{"average recency", Vars{Recency: 3, Frequency: 2, Monetary: 1, Lifecycle: "active"}, "needs-attention", "low"},
		{"low value detractor", Vars{Recency: 5, Frequency: 1, Monetary: 1, Lifecycle: "active", LatestNPS: "detractor"}, "potential", "low"},
		{"low value, recency 2, detractor", Vars{Recency: 2, Frequency: 1, Monetary: 1, Lifecycle: "declining", LatestNPS: "detractor"}, "needs-attention", "low"},
		{"low value, recency 2, likely to leave", Vars{Recency: 2, Frequency: 2, Monetary: 2, Lifecycle: "declining", ChurnRisk: 0.55}, "needs-attention", "medium"},
		{"gone a year, detractor: lost all the same", Vars{Recency: 1, Frequency: 1, Monetary: 1, Lifecycle: "lapsed", LatestNPS: "detractor", ChurnRisk: 0.9}, "lost", "low"},
		{"hibernating", Vars{Recency: 2, Frequency: 2, Monetary: 2, Lifecycle: "declining"}, "hibernating", "medium"},
		{"lost", Vars{Recency: 1, Frequency: 1, Monetary: 1, Lifecycle: "lapsed"}, "lost", "low"},
	} {
		tier, level := rs.Evaluate(&tc.v)
		if tier.Name != tc.tier || level != tc.level || tier.Description == "" {
			t.Errorf("%s: tier %+v, level %s; want %s, %s", tc.name, tier, level, tc.tier, tc.level)
		}
	}
}

func TestBrokenRuleFilesFailWithTheRuleNamed(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"syntax", "tiers: [{name: gold, when: 'recency >='}]\ndefault: {name: rest}", `tier "gold"`},
		{"unknown variable", "tiers: [{name: gold, when: 'recncy >= 4'}]\ndefault: {name: rest}", "undeclared reference to 'recncy'"},
		{"not a condition", "tiers: [{name: gold, when: 'recency + 1'}]\ndefault: {name: rest}", "must be true or false"},
		{"type mismatch", "tiers: [{name: gold, when: 'lifecycle >= 4'}]\ndefault: {name: rest}", `tier "gold"`},
		{"empty when", "tiers: [{name: gold}]\ndefault: {name: rest}", "empty `when`"},
		{"duplicate", "tiers: [{name: gold, when: 'true'}, {name: gold, when: 'false'}]\ndefault: {name: rest}", `"gold" is defined twice`},
		{"no default", "tiers: [{name: gold, when: 'true'}]", "no default tier"},
		{"no tiers", "default: {name: rest}", "no tiers"},
		{"unknown field", "tiers: [{name: gold, whne: 'true'}]\ndefault: {name: rest}", "whne"},
		{"bad level", "tiers: [{name: gold, when: 'true'}]\ndefault: {name: rest}\nvalue_levels: [{level: huge, when: 'true'}]", `"huge"`},
	} {
		_, err := Load(strings.NewReader(tc.yaml), "my-tiers.yaml")
		if err == nil || !strings.Contains(err.Error(), "my-tiers.yaml") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkEvaluate runs the default rules for a customer who matches late
// (needs-attention), the costly case:
//
//	go test -run '^$' -bench Evaluate -cpu 1 ./internal/tiers
func BenchmarkEvaluate(b *testing.B) {
	rs, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	v := Vars{Recency: 3, Frequency: 2, Monetary: 1, Lifecycle: "active"}
	b.ReportAllocs()
	for b.Loop() {
		rs.Evaluate(&v)
	}
}
