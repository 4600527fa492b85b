package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// TestEscalationFollowUpAndOutcome runs a case through time: unacknowledged
// past a short SLA it escalates; resolved, its follow-up falls due; the
// customer's next (good) feedback measures the outcome.
func TestEscalationFollowUpAndOutcome(t *testing.T) {
	h := start(t,
		"FEEDLOOP_ALERTING_SLA", "critical=1s/1h,high=1s/1h,medium=1s/1h,low=1s/1h",
		"FEEDLOOP_ALERTING_FOLLOW_UP_AFTER", "1s",
		"FEEDLOOP_ALERTING_SCHEDULE_INTERVAL", "100ms")
	high := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH
	h.publish(t, evaluated("ann", "f1", high, 2, false))
	testkit.WaitStream(t, h.js, "RECOVERY", 2, 15*time.Second)
	cs := h.changes(t)
	if cs[0].GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED || cs[1].GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_ESCALATED ||
		cs[1].GetCase().GetEscalationLevel() != 1 || cs[1].GetActor() != "system" {
		t.Fatalf("changes %v, want opened then escalated to level 1", cs)
	}
	id := cs[0].GetCase().GetCaseId()
	ctx := testkit.WithKey(keyA)
	if _, err := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: id, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	resolution := &alertingv1.Resolution{RootCause: "courier lost the parcel", Actions: []*alertingv1.RecoveryAction{
		{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY, Note: "called"}}}
	if _, err := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: id, By: "ops", Resolution: resolution}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitStream(t, h.js, "RECOVERY", 5, 15*time.Second)
	if c := h.changes(t)[4]; c.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_FOLLOW_UP_DUE {
		t.Fatalf("fifth change %v, want the follow-up", c)
	}

	// The customer's next feedback, a promoter's, measures the outcome.
	next := evaluated("ann", "f2", high, 10, false)
	next.Msg.(*eventsv1.CustomerEvaluated).Profile.UpdatedAt = timestamppb.Now()
	h.publish(t, next)
	testkit.WaitStream(t, h.js, "RECOVERY", 6, 15*time.Second)
	o := h.changes(t)[5]
	if o.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OUTCOME_MEASURED || o.GetEventId() != "f2" ||
		!o.GetCase().GetOutcome().GetRecovered() || o.GetCase().GetCaseId() != id {
		t.Fatalf("sixth change %v, want the outcome, recovered, measured by f2", o)
	}
	// A later feedback measures nothing more.
	later := evaluated("ann", "f3", high, 9, false)
	later.Msg.(*eventsv1.CustomerEvaluated).Profile.UpdatedAt = timestamppb.Now()
	h.publish(t, later)
	h.waitIdle(t)
	if n := len(h.changes(t)); n != 6 {
		t.Errorf("%d changes after a second feedback, want 6", n)
	}
	// The case keeps its history.
	got, err := h.client.GetAlert(ctx, &alertingv1.GetAlertRequest{CaseId: id})
	if err != nil {
		t.Fatal(err)
	}
	var history []string
	for _, ch := range got.GetHistory() {
		history = append(history, strings.TrimPrefix(ch.GetType().String(), "CASE_EVENT_TYPE_")+":"+ch.GetActor())
	}
	want := "OPENED:vip-detractor-or-complaint ESCALATED:system ACKNOWLEDGED:ops RESOLVED:ops FOLLOW_UP_DUE:system OUTCOME_MEASURED:system"
	if strings.Join(history, " ") != want {
		t.Errorf("history %v, want %s", history, want)
	}
}

// TestAnEventAndTheTierChangeItCausedBothCount: a detractor's feedback that
// also moves the customer into at-risk arrives as two messages under one
// event id; whichever comes first, both join one case at the higher
// severity.
func TestAnEventAndTheTierChangeItCausedBothCount(t *testing.T) {
	h := start(t)
	change := bus.Outgoing{
		Subject: bus.Subject(bus.TierChanged, "tenant-a"), ID: "tenant-a/f1/ann/tier_changed",
		Msg: &eventsv1.TierChanged{TenantId: "tenant-a", CustomerId: "ann", EventId: "f1", OldTier: "champion", NewTier: "at-risk", ChangedAt: timestamppb.New(t0)},
	}
	h.publish(t, change)
	testkit.WaitStream(t, h.js, "RECOVERY", 1, 10*time.Second)
	h.publish(t, evaluated("ann", "f1", segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false))
	testkit.WaitStream(t, h.js, "RECOVERY", 2, 10*time.Second)
	h.waitIdle(t)
	cs := h.changes(t)
	if len(cs) != 2 {
		t.Fatalf("%d changes, want 2", len(cs))
	}
	if cs[0].GetCase().GetRule() != "into-at-risk" || cs[0].GetEventId() != "f1/tier_changed" ||
		cs[1].GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_UPDATED || cs[1].GetEventId() != "f1" ||
		cs[1].GetCase().GetSeverity() != alertingv1.Severity_SEVERITY_CRITICAL || cs[1].GetCase().GetEventCount() != 2 {
		t.Errorf("changes %v", cs)
	}
}
