package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestAnErasedCustomerLeavesOnlyCounts(t *testing.T) {
	h := start(t)
	high := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH
	h.publish(t, evaluated("ann", "f1", high, 2, true), evaluated("bob", "f2", high, 1, false))
	testkit.WaitStream(t, h.js, "RECOVERY", 2, 10*time.Second)
	var annCase string
	for _, c := range h.changes(t) {
		if c.GetCase().GetCustomerId() == "ann" {
			annCase = c.GetCase().GetCaseId()
		}
	}
	h.publish(t, bus.Outgoing{
		Subject: bus.Subject(bus.CustomerErased, "tenant-a"), ID: "tenant-a/erase/ann",
		Msg: &eventsv1.CustomerErased{TenantId: "tenant-a", CustomerId: "ann", ErasedAt: timestamppb.Now()},
	})
	ctx := testkit.WithKey(keyA)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := h.client.GetAlert(ctx, &alertingv1.GetAlertRequest{CaseId: annCase})
		if err != nil {
			t.Fatal(err)
		}
		c := got.GetCase()
		if c.GetCustomerId() == "" {
			if c.GetSummary() != "" || len(c.GetLabels()) != 0 || c.GetEventCount() != 1 || c.GetSeverity() != alertingv1.Severity_SEVERITY_CRITICAL {
				t.Errorf("erased case %v: want no summary or labels, the counts and severity kept", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("case still names its customer after 10s: %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	list, err := h.client.ListAlerts(ctx, &alertingv1.ListAlertsRequest{CustomerId: "ann"})
	if err != nil || len(list.GetCases()) != 0 {
		t.Errorf("ann's cases after erasure: %v, %v; want none", list.GetCases(), err)
	}
	report, err := h.client.GetRecoveryReport(ctx, &alertingv1.GetRecoveryReportRequest{})
	if err != nil || report.GetTotal().GetOpened() != 2 {
		t.Errorf("report after erasure: %v, %v; want both cases counted", report.GetTotal(), err)
	}
	// Bob is untouched.
	bob, err := h.client.ListAlerts(ctx, &alertingv1.ListAlertsRequest{CustomerId: "bob"})
	if err != nil || len(bob.GetCases()) != 1 || bob.GetCases()[0].GetSummary() == "" {
		t.Errorf("bob's cases: %v, %v", bob.GetCases(), err)
	}
}
