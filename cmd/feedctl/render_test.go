package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"
)

func TestTableRender(t *testing.T) {
	tests := []struct {
		name string
		t    *table
		want string
	}{
		{
			name: "aligned, no trailing spaces",
			t: func() *table {
				t := newTable("CASE", "SEVERITY", "SUMMARY")
				t.add("c-1", "critical", "late")
				t.add("case-22", "low", "")
				return t
			}(),
			want: "CASE     SEVERITY  SUMMARY\n" +
				"c-1      critical  late\n" +
				"case-22  low\n",
		},
		{
			name: "tabs and newlines in cells cannot break the columns",
			t: func() *table {
				t := newTable("A", "B")
				t.add("x\ty", "line one\nline two")
				return t
			}(),
			want: "A    B\nx y  line one line two\n",
		},
		{name: "header only", t: newTable("A", "B"), want: "A  B\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := tt.t.render(&b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\n%q\nwant\n%q", tt.name, b.String(), tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{300 * time.Microsecond, "1ms"},
		{450 * time.Millisecond, "450ms"},
		{45 * time.Second, "45s"},
		{90 * time.Second, "1m30s"},
		{10 * time.Minute, "10m"},
		{2*time.Hour + 10*time.Minute, "2h10m"},
		{3 * time.Hour, "3h"},
		{26 * time.Hour, "1d2h"},
		{47*time.Hour + 50*time.Minute, "2d"},
		{7 * 24 * time.Hour, "7d"},
		{59*time.Minute + 59700*time.Millisecond, "1h"},
		{59600 * time.Millisecond, "1m"},
		{23*time.Hour + 59*time.Minute + 40*time.Second, "1d"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := testClock.due(timestamppb.New(testNow.Add(45 * time.Minute))); got != "in 45m" {
		t.Errorf("due in 45m = %q", got)
	}
	if got := testClock.due(timestamppb.New(testNow.Add(-2 * time.Hour))); got != "overdue 2h" {
		t.Errorf("due 2h ago = %q", got)
	}
	if got := span(durationpb.New(90 * time.Second)); got != "1m30s" {
		t.Errorf("span = %q", got)
	}
	if got := span(nil); got != "-" {
		t.Errorf("span(nil) = %q", got)
	}
}

func testCase() *alertingv1.RecoveryCase {
	return &alertingv1.RecoveryCase{
		CaseId: "case-1", CustomerId: "c-1", State: alertingv1.CaseState_CASE_STATE_OPEN,
		Severity: alertingv1.Severity_SEVERITY_CRITICAL, Rule: "vip-detractor-or-complaint",
		MatchedRules: []string{"vip-detractor-or-complaint", "complaint"},
		Summary:      "High-value customer c-1 (champion) complained about delivery",
		Labels:       map[string]string{"team": "vip-care"}, Tier: "champion",
		ValueLevel: segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, EventCount: 2, FirstEventId: "e-1", LatestEventId: "e-2",
		OpenedAt:      timestamppb.New(testNow.Add(-10 * time.Minute)),
		AcknowledgeBy: timestamppb.New(testNow.Add(5 * time.Minute)),
		ResolveBy:     timestamppb.New(testNow.Add(4 * time.Hour)),
		Channel:       "app", Touchpoint: "delivery", OpeningExperienceScore: 12.5,
	}
}

func TestRenderCases(t *testing.T) {
	var b bytes.Buffer
	if err := renderCases(&b, []*alertingv1.RecoveryCase{testCase()}, testClock); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for _, want := range []string{"case-1", "critical", "open", "c-1", "champion", "vip-detractor-or-complaint", "2025-06-10 11:50", "ack in 5m", "High-value customer"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
}

func TestRenderAlert(t *testing.T) {
	c := testCase()
	c.State = alertingv1.CaseState_CASE_STATE_RESOLVED
	c.AcknowledgedBy, c.AcknowledgedAt = "olivia", timestamppb.New(testNow.Add(-8*time.Minute))
	c.ResolvedBy, c.ResolvedAt = "olivia", timestamppb.New(testNow.Add(-time.Minute))
	c.Resolution = &alertingv1.Resolution{RootCause: "courier lost the parcel", Actions: []*alertingv1.RecoveryAction{
		{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY},
		{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION, Compensation: &intakev1.Money{AmountMinor: 1000, Currency: "USD"}},
	}}
	resp := &alertingv1.GetAlertResponse{
		Case: c,
		History: []*alertingv1.CaseChange{
			{Type: alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED, Actor: "vip-detractor-or-complaint", EventId: "e-1", OccurredAt: c.OpenedAt},
			{Type: alertingv1.CaseEventType_CASE_EVENT_TYPE_FOLLOW_UP_DUE, Actor: "system", OccurredAt: c.ResolvedAt},
		},
		Notifications: []*alertingv1.Notification{{Receiver: "slack", Trigger: alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED, Success: true, Attempts: 1, SentAt: c.OpenedAt}},
	}
	var b bytes.Buffer
	if err := renderAlert(&b, resp, testClock); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"State:", "resolved", "Rule:", "vip-detractor-or-complaint (also complaint)", "champion (high value)",
		"app / delivery", "team=vip-care", "Acknowledge by:", "(met)", "Root cause:", "courier lost the parcel",
		"apology; compensation 10.00 USD", "History:", "follow up due", "Notifications:", "slack", "delivered",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("GetAlert output lacks %q:\n%s", want, b.String())
		}
	}
	// "opened" alone would match "12.5 when opened" above the history.
	if !regexp.MustCompile(`(?m)^  2025-06-10 11:50:00\s+opened\s+vip-detractor-or-complaint\s+e-1$`).MatchString(b.String()) {
		t.Errorf("history lacks the opening row:\n%s", b.String())
	}
}

func TestWatchLine(t *testing.T) {
	got := watchLine(&alertingv1.WatchAlertsResponse{
		Cursor: "42", Type: alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED, Case: testCase(), OccurredAt: timestamppb.New(testNow),
	}, testClock)
	want := "42     2025-06-10 12:00:00  opened           critical  open         case-1  c-1  High-value customer c-1 (champion) complained about delivery"
	if got != want {
		t.Errorf("watch line\n%q\nwant\n%q", got, want)
	}
}

func TestRenderProfile(t *testing.T) {
	p := &segmentationv1.CustomerProfile{
		CustomerId: "c-1", Tier: "at-risk", TierSince: timestamppb.New(testNow.Add(-24 * time.Hour)),
		ValueLevel: segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, Lifecycle: segmentationv1.LifecycleStage_LIFECYCLE_STAGE_DECLINING,
		ChurnRisk: &segmentationv1.ChurnRisk{Score: 0.72, Reasons: []*segmentationv1.Reason{{Code: "detractor", Description: "answered as a detractor", Contribution: 0.3}}},
		Monetary:  &intakev1.Money{AmountMinor: 123450, Currency: "USD"}, OtherMonetary: []*intakev1.Money{{AmountMinor: 2000, Currency: "EUR"}},
		Rfm: &segmentationv1.Rfm{Recency: 4, Frequency: 3, Monetary: 5}, DecayedSatisfaction: 34.25, SatisfactionTrend: -12,
	}
	var b bytes.Buffer
	if err := renderProfile(&b, p, testClock); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"at-risk (since 2025-06-09 12:00)", "high", "declining", "0.72", "1234.50 USD + 20.00 EUR", "R4 F3 M5", "34.2 (trend -12.0)", "Churn risk:", "detractor", "0.30"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("profile lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRenderRecovery(t *testing.T) {
	s := &alertingv1.SeveritySummary{Opened: 4, Acknowledged: 3, Resolved: 2, MedianTimeToAcknowledge: durationpb.New(4 * time.Minute),
		AcknowledgeSlaMet: 0.75, ResolveSlaMet: 1, OutcomesMeasured: 2, RecoveryRate: 0.5}
	var b bytes.Buffer
	err := renderRecovery(&b, &alertingv1.GetRecoveryReportResponse{Total: s,
		BySeverity: []*alertingv1.SeveritySummary{{Severity: alertingv1.Severity_SEVERITY_HIGH, Opened: 1}},
		ByTier:     []*alertingv1.TierSummary{{Tier: "champion", Summary: s}}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "all ") || !strings.Contains(lines[1], "4m") || !strings.Contains(lines[1], "75%") ||
		!strings.Contains(lines[1], "50%") || !strings.HasPrefix(lines[2], "high ") || !strings.HasPrefix(lines[5], "champion ") {
		t.Errorf("recovery report:\n%s", b.String())
	}
	// No outcome measured: the recovery rate is unknown, not 0%.
	if strings.Fields(lines[2])[12] != "-" {
		t.Errorf("high row %q: want - for the recovery rate", lines[2])
	}
}

func TestPct(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{{0, "0%"}, {0.0004, "<0.1%"}, {0.004, "0.4%"}, {0.0999, "10%"}, {0.75, "75%"}, {1, "100%"}}
	for _, tt := range tests {
		if got := pct(tt.f); got != tt.want {
			t.Errorf("pct(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestPrintJSON(t *testing.T) {
	resp := &intakev1.SubmitFeedbackResponse{EventId: "e-1"}
	var b bytes.Buffer
	if err := printJSON(&b, resp); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"eventId\": \"e-1\",\n  \"duplicate\": false\n}\n"; b.String() != want {
		t.Errorf("printJSON = %q, want %q (every field, stable spacing)", b.String(), want)
	}
	b.Reset()
	if err := printJSONLine(&b, resp); err != nil {
		t.Fatal(err)
	}
	if want := `{"eventId":"e-1","duplicate":false}` + "\n"; b.String() != want {
		t.Errorf("printJSONLine = %q, want %q", b.String(), want)
	}
}
