package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// happy is a satisfied, loyal, medium-value customer's promoter answer.
func happy() Vars {
	return Vars{
		CustomerID: "c-1", Kind: Feedback, NPS: 10, NPSClass: "promoter", Experience: 92, Sentiment: 0.6,
		HasComment: true, Channel: "app", Touchpoint: "delivery",
		Tier: "loyal", PreviousTier: "loyal", ValueLevel: "medium", Lifecycle: "loyal",
		ChurnRisk: 0.08, PreviousChurnRisk: 0.09, Satisfaction: 85, SatisfactionTrend: 2, HasSatisfaction: true,
		Recency: 5, Frequency: 4, Monetary: 3,
	}
}

func with(change func(*Vars)) Vars {
	v := happy()
	change(&v)
	return v
}

func TestDefaultRules(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	type match struct {
		rule     string
		severity alert.Severity
	}
	for _, tc := range []struct {
		name string
		v    Vars
		want []match
	}{
		{"a happy customer", happy(), nil},
		{"a high-value detractor", with(func(v *Vars) { v.ValueLevel, v.NPS, v.NPSClass = "high", 3, "detractor" }),
			[]match{{"vip-detractor-or-complaint", alert.Critical}}},
		{"a high-value complaint", with(func(v *Vars) { v.ValueLevel, v.Complaint, v.ComplaintCategory = "high", true, "delivery" }),
			[]match{{"vip-detractor-or-complaint", alert.Critical}, {"complaint", alert.Critical}}},
		{"a medium-value complaint", with(func(v *Vars) { v.Complaint = true }), []match{{"complaint", alert.High}}},
		{"a low-value complaint", with(func(v *Vars) { v.ValueLevel, v.Complaint = "low", true }), []match{{"complaint", alert.Medium}}},
		{"a low-value detractor alone", with(func(v *Vars) { v.ValueLevel, v.NPSClass = "low", "detractor" }), nil},
		{"satisfaction falling sharply", with(func(v *Vars) { v.SatisfactionTrend = -18 }), []match{{"satisfaction-falling", alert.Medium}}},
		{"a trend without satisfaction", with(func(v *Vars) { v.SatisfactionTrend, v.HasSatisfaction = -18, false }), nil},
		{"into at-risk", with(func(v *Vars) { v.Kind, v.Tier = TierChange, "at-risk" }), []match{{"into-at-risk", alert.High}}},
		{"a feedback's evaluation leaves tiers to the tier change", with(func(v *Vars) { v.Tier = "at-risk" }), nil},
		{"into cannot-lose, by the sweep", with(func(v *Vars) { v.Kind, v.Tier = TierChange, "cannot-lose" }), []match{{"into-at-risk", alert.Critical}}},
		{"already at-risk", with(func(v *Vars) { v.Kind, v.Tier, v.PreviousTier = TierChange, "at-risk", "at-risk" }), nil},
		{"a purchase does not alert on tiers", with(func(v *Vars) { v.Kind, v.Tier = Activity, "at-risk" }), nil},
		{"churn risk crossing 0.7", with(func(v *Vars) { v.PreviousChurnRisk, v.ChurnRisk = 0.65, 0.71 }), []match{{"churn-risk-crossed", alert.Medium}}},
		{"churn risk already above", with(func(v *Vars) { v.PreviousChurnRisk, v.ChurnRisk = 0.75, 0.8 }), nil},
		{"a strongly negative comment", with(func(v *Vars) { v.Sentiment = -0.7 }), []match{{"very-negative-comment", alert.Medium}}},
		{"negative, but no comment", with(func(v *Vars) { v.Sentiment, v.HasComment = -0.7, false }), nil},
	} {
		var got []match
		for _, m := range rs.Evaluate(&tc.v) {
			got = append(got, match{m.Rule, m.Severity})
			if m.Summary == "" || strings.Contains(m.Summary, "<no value>") || m.Labels["team"] == "" {
				t.Errorf("%s: %s: summary %q, labels %v", tc.name, m.Rule, m.Summary, m.Labels)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSummaries(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	v := with(func(v *Vars) {
		v.CustomerID, v.ValueLevel, v.Tier, v.Complaint, v.ComplaintCategory = "ann", "high", "champion", true, "delivery"
	})
	got := rs.Evaluate(&v)
	if len(got) != 2 || got[0].Summary != "High-value customer ann (champion) complained about delivery" ||
		got[1].Summary != "Complaint (delivery) from ann about delivery" {
		t.Errorf("summaries %+v", got)
	}
	v = with(func(v *Vars) { v.CustomerID, v.Kind, v.Tier, v.PreviousTier = "bob", TierChange, "at-risk", "" })
	if got := rs.Evaluate(&v); len(got) != 1 || got[0].Summary != "bob moved from no tier to at-risk" {
		t.Errorf("summaries %+v", got)
	}
}

func TestSeverityByTierThenValueLevel(t *testing.T) {
	s := Severity{ByTier: map[string]alert.Severity{"cannot-lose": alert.Critical},
		ByValueLevel: map[string]alert.Severity{"high": alert.High}, Default: alert.Low}
	for _, tc := range []struct {
		tier, level string
		want        alert.Severity
	}{{"cannot-lose", "low", alert.Critical}, {"loyal", "high", alert.High}, {"loyal", "low", alert.Low}} {
		if got := s.For(tc.tier, tc.level); got != tc.want {
			t.Errorf("%s/%s: %s, want %s", tc.tier, tc.level, got, tc.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	rs, err := Load(strings.NewReader(`
rules:
  - name: north
    when: attributes["region"] == "north" && "sku" in attributes
    severity: low
    summary: north
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attrs map[string]string
		want  int
	}{{nil, 0}, {map[string]string{"region": "north"}, 0}, {map[string]string{"region": "north", "sku": "1"}, 1}} {
		v := happy()
		v.Attributes = tc.attrs
		if got := len(rs.Evaluate(&v)); got != tc.want {
			t.Errorf("%v: %d matches, want %d", tc.attrs, got, tc.want)
		}
	}
}

func TestBrokenFilesNameTheRule(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - name: gold\n" + body
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown variable", rule("    when: tire == \"x\"\n    severity: low\n    summary: s\n"), `rule "gold": ERROR: <input>:1:1: undeclared reference to 'tire'`},
		{"not a boolean", rule("    when: churn_risk\n    severity: low\n    summary: s\n"), "rule \"gold\": `when` must be true or false, not double"},
		{"syntax", rule("    when: churn_risk >\n    severity: low\n    summary: s\n"), `rule "gold": ERROR`},
		{"empty when", rule("    severity: low\n    summary: s\n"), "rule \"gold\": empty `when`"},
		{"no severity", rule("    when: complaint\n    summary: s\n"), `rule "gold": no ` + "`severity`"},
		{"bad severity", rule("    when: complaint\n    severity: urgent\n    summary: s\n"), `rule "gold": severity "urgent" is not low, medium, high or critical`},
		{"no default", rule("    when: complaint\n    severity: {by_tier: {lost: low}}\n    summary: s\n"), `rule "gold": severity default`},
		{"bad value level", rule("    when: complaint\n    severity: {by_value_level: {vip: high}, default: low}\n    summary: s\n"), `by_value_level: "vip" is not high, medium or low`},
		{"bad template", rule("    when: complaint\n    severity: low\n    summary: '{{.Nope}}'\n"), `rule "gold": summary:`},
		{"unclosed template", rule("    when: complaint\n    severity: low\n    summary: '{{.Tier'\n"), `rule "gold": summary:`},
		{"no summary", rule("    when: complaint\n    severity: low\n"), "rule \"gold\": empty `summary`"},
		{"bad name", "rules:\n  - name: Gold Rule\n    when: complaint\n    severity: low\n    summary: s\n", `rule 1: name "Gold Rule"`},
		{"twice", rule("    when: complaint\n    severity: low\n    summary: s\n  - name: gold\n    when: complaint\n    severity: low\n    summary: s\n"), `rule "gold" is defined twice`},
		{"no rules", "rules: []\n", "no rules"},
		{"unknown field", rule("    when: complaint\n    severity: low\n    summary: s\n    sevrity: high\n"), "field sevrity not found"},
	} {
		_, err := Load(strings.NewReader(tc.yaml), "my-rules.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "alert rules my-rules.yaml: ") {
			t.Errorf("%s: error %v\nwant it to name the file and say %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkEvaluate runs the default rules over a mix of events (about one
// in twenty matches), one core:
//
//	go test -run '^$' -bench Evaluate -cpu 1 -count 6 ./internal/rules
func BenchmarkEvaluate(b *testing.B) {
	rs, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	events := make([]Vars, 20)
	for i := range events {
		events[i] = happy()
	}
	events[7] = with(func(v *Vars) { v.Complaint, v.ComplaintCategory = true, "delivery" })
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rs.Evaluate(&events[i%len(events)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
