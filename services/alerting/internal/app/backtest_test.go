package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/alerting/internal/api"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// candidateRules are two rules a team is trying out: one for every
// detractor, one for every complaint.
const candidateRules = `
rules:
  - name: any-detractor
    when: kind == "feedback" && nps_class == "detractor"
    severity: {by_value_level: {high: critical}, default: medium}
    summary: 'Detractor {{.CustomerID}}'
  - name: any-complaint
    when: kind == "feedback" && complaint
    severity: high
    summary: 'Complaint from {{.CustomerID}}'
`

func TestBacktestRules(t *testing.T) {
	h := start(t)
	high, low := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, segmentationv1.ValueLevel_VALUE_LEVEL_LOW
	again := evaluated("ann", "f1", high, 2, false)
	again.ID = "tenant-a/f1-again" // delivered twice: counts once
	h.publish(t,
		evaluated("ann", "f1", high, 2, false), // high-value detractor: a case
		evaluated("ann", "f2", high, 5, true),  // and a complaint: attaches to it
		again,
		evaluated("bob", "f3", low, 10, false), // a promoter: nothing
		evaluated("cat", "f4", low, 9, true),   // a promoter's complaint: a case
		evaluated("dan", "f5", low, 3, false),  // a low-value detractor: only the candidate opens a case
	)
	h.waitIdle(t)
	live := len(testkit.StreamMessages(t, h.js, "RECOVERY"))

	var trailer metadata.MD
	got, err := h.client.BacktestRules(testkit.WithKey(keyA), &alertingv1.BacktestRulesRequest{RulesYaml: candidateRules}, grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	want := &alertingv1.BacktestRulesResponse{EventsReplayed: 6, TotalCases: 3, Rules: []*alertingv1.RuleBacktest{
		{Rule: "any-detractor", Matches: 3, Cases: 2, DistinctCustomers: 2}, // ann (f1, f2), dan
		{Rule: "any-complaint", Matches: 2, Cases: 1, DistinctCustomers: 1}, // ann's f2 attaches; cat
	}}
	if !proto.Equal(got, want) {
		t.Errorf("backtest\n %v, want\n %v", got, want)
	}
	if s := trailer.Get(api.SkippedTrailer); len(s) != 1 || s[0] != "0" {
		t.Errorf("skipped trailer %v, want 0", s)
	}

	// The backtest opened nothing: no case for dan, whom only the candidate
	// matches, and no change announced beyond the live service's own.
	if _, err := h.client.GetAlert(testkit.WithKey(keyA), &alertingv1.GetAlertRequest{CaseId: store.CaseID("dan", "f5")}); status.Code(err) != codes.NotFound {
		t.Errorf("dan's case: %v, want NotFound", err)
	}
	if n := len(testkit.StreamMessages(t, h.js, "RECOVERY")); n != live {
		t.Errorf("RECOVERY holds %d changes after the backtest, %d before", n, live)
	}

	// Another tenant replays only its own events: none.
	other, err := h.client.BacktestRules(testkit.WithKey(keyB), &alertingv1.BacktestRulesRequest{RulesYaml: candidateRules, Lookback: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if other.GetEventsReplayed() != 0 || other.GetTotalCases() != 0 || len(other.GetRules()) != 2 || other.GetRules()[0].GetMatches() != 0 {
		t.Errorf("tenant B's backtest: %v", other)
	}
}

func TestBacktestRulesRejectsBadRequests(t *testing.T) {
	h := start(t)
	for _, tc := range []struct {
		name    string
		req     *alertingv1.BacktestRulesRequest
		field   string
		mention string
	}{
		{"a rule that does not compile", &alertingv1.BacktestRulesRequest{RulesYaml: strings.Replace(candidateRules, "nps_class", "nps_klass", 1)},
			"rules_yaml", "undeclared reference to 'nps_klass'"},
		{"not a rule file", &alertingv1.BacktestRulesRequest{RulesYaml: "rules: [1, 2"}, "rules_yaml", "rules_yaml"},
		{"no rules", &alertingv1.BacktestRulesRequest{}, "rules_yaml", ""},
		{"a negative lookback", &alertingv1.BacktestRulesRequest{RulesYaml: candidateRules, Lookback: durationpb.New(-time.Hour)},
			"lookback", "positive"},
		{"a zero lookback", &alertingv1.BacktestRulesRequest{RulesYaml: candidateRules, Lookback: durationpb.New(0)},
			"lookback", "positive"},
		{"beyond the stream's retention", &alertingv1.BacktestRulesRequest{RulesYaml: candidateRules, Lookback: durationpb.New(31 * 24 * time.Hour)},
			"lookback", "720h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.BacktestRules(testkit.WithKey(keyA), tc.req)
			v := testkit.FieldViolations(t, err)
			if desc, ok := v[tc.field]; !ok || !strings.Contains(desc, tc.mention) {
				t.Errorf("violations %v, want %s mentioning %q", v, tc.field, tc.mention)
			}
		})
	}
}
