package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestGetRecoveryReport(t *testing.T) {
	h := start(t)
	// Deadlines count from the opening: bob's and cat's medium cases, two
	// hours old, are not due yet (4h to acknowledge).
	cs := h.open(t,
		opening("tenant-a", "ann", critical, "champion", t0),
		opening("tenant-a", "dan", high, "champion", t0),
		opening("tenant-a", "bob", medium, "loyal", t0.Add(-2*time.Hour)),
		opening("tenant-a", "cat", medium, "loyal", t0.Add(-90*time.Minute)),
	)
	ctx := testkit.WithKey(keyA)
	resolution := &alertingv1.Resolution{RootCause: "late courier", Actions: []*alertingv1.RecoveryAction{action(apology, 0)}}
	for _, customer := range []string{"ann", "bob"} {
		if _, err := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: cs[customer].GetCaseId(), By: "olivia"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, customer := range []string{"ann", "dan"} {
		if _, err := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: cs[customer].GetCaseId(), By: "olivia", Resolution: resolution}); err != nil {
			t.Fatal(err)
		}
	}

	r, err := h.client.GetRecoveryReport(ctx, &alertingv1.GetRecoveryReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if tot := r.GetTotal(); tot.GetOpened() != 4 || tot.GetAcknowledged() != 2 || tot.GetResolved() != 2 || tot.GetEscalated() != 0 ||
		tot.GetAcknowledgeSlaMet() != 0.5 || tot.GetResolveSlaMet() != 1 {
		t.Errorf("total %v", tot)
	}
	type counts struct{ opened, acknowledged, resolved int64 }
	wantBySeverity := []struct {
		sev alertingv1.Severity
		counts
	}{
		{alertingv1.Severity_SEVERITY_LOW, counts{0, 0, 0}},
		{medium, counts{2, 1, 0}},
		{high, counts{1, 0, 1}},
		{critical, counts{1, 1, 1}},
	}
	if len(r.GetBySeverity()) != len(wantBySeverity) {
		t.Fatalf("by severity %v", r.GetBySeverity())
	}
	for i, want := range wantBySeverity {
		s := r.GetBySeverity()[i]
		if s.GetSeverity() != want.sev || (counts{s.GetOpened(), s.GetAcknowledged(), s.GetResolved()}) != want.counts {
			t.Errorf("by severity [%d] = %v, want %v %+v", i, s, want.sev, want.counts)
		}
	}
	bySeverity := r.GetBySeverity()
	// bob took two hours and more to acknowledge; ann and dan were dealt
	// with as the test ran.
	if d := bySeverity[1].GetMedianTimeToAcknowledge().AsDuration(); d < 2*time.Hour || d > 3*time.Hour {
		t.Errorf("medium: median time to acknowledge %v", d)
	}
	if s := bySeverity[1]; s.GetMedianTimeToResolve() != nil || s.GetP90TimeToResolve() != nil {
		t.Errorf("medium: a time to resolve without a case resolved: %v", s)
	}
	if s := bySeverity[2]; s.GetMedianTimeToResolve().AsDuration() <= 0 || s.GetMedianTimeToAcknowledge() != nil {
		t.Errorf("high: %v; want a time to resolve and none to acknowledge", s)
	}
	if s := bySeverity[3]; s.GetMedianTimeToAcknowledge().AsDuration() <= 0 || s.GetP90TimeToAcknowledge().AsDuration() <= 0 ||
		s.GetMedianTimeToResolve().AsDuration() < s.GetMedianTimeToAcknowledge().AsDuration() || s.GetAcknowledgeSlaMet() != 1 {
		t.Errorf("critical: %v", s)
	}
	if tiers := r.GetByTier(); len(tiers) != 2 || tiers[0].GetTier() != "champion" || tiers[0].GetSummary().GetOpened() != 2 || tiers[0].GetSummary().GetResolved() != 2 ||
		tiers[1].GetTier() != "loyal" || tiers[1].GetSummary().GetOpened() != 2 || tiers[1].GetSummary().GetAcknowledged() != 1 ||
		tiers[1].GetSummary().GetMedianTimeToAcknowledge().AsDuration() < 2*time.Hour {
		t.Errorf("by tier %v", tiers)
	}

	// A window holding bob's and cat's openings only.
	window := &alertingv1.GetRecoveryReportRequest{StartTime: timestamppb.New(t0.Add(-3 * time.Hour)), EndTime: timestamppb.New(t0.Add(-time.Hour))}
	if r, err := h.client.GetRecoveryReport(ctx, window); err != nil || r.GetTotal().GetOpened() != 2 || r.GetBySeverity()[1].GetOpened() != 2 {
		t.Errorf("window of 2h: %v, %v", r, err)
	}
	// The end is excluded.
	window = &alertingv1.GetRecoveryReportRequest{StartTime: timestamppb.New(t0.Add(-time.Hour)), EndTime: timestamppb.New(t0)}
	if r, err := h.client.GetRecoveryReport(ctx, window); err != nil || r.GetTotal().GetOpened() != 0 {
		t.Errorf("the hour before t0: %v, %v", r, err)
	}
	if r, err := h.client.GetRecoveryReport(testkit.WithKey(keyB), &alertingv1.GetRecoveryReportRequest{}); err != nil || r.GetTotal().GetOpened() != 0 || len(r.GetByTier()) != 0 {
		t.Errorf("tenant B: %v, %v", r, err)
	}

	bad := []struct {
		name string
		req  *alertingv1.GetRecoveryReportRequest
	}{
		{"start after end", &alertingv1.GetRecoveryReportRequest{StartTime: timestamppb.New(t0), EndTime: timestamppb.New(t0.Add(-time.Hour))}},
		{"more than 366 days", &alertingv1.GetRecoveryReportRequest{StartTime: timestamppb.New(t0.Add(-400 * 24 * time.Hour))}},
	}
	for _, tt := range bad {
		_, err := h.client.GetRecoveryReport(ctx, tt.req)
		if v := testkit.FieldViolations(t, err); v["start_time"] == "" {
			t.Errorf("%s: violations %v", tt.name, v)
		}
	}
}
