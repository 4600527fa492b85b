package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// watch opens WatchAlerts and returns its responses as they come.
func (h *harness) watch(t *testing.T, key string, req *alertingv1.WatchAlertsRequest) (<-chan *alertingv1.WatchAlertsResponse, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(testkit.WithKey(key))
	stream, err := h.client.WatchAlerts(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The headers come once the watch is in place: every change from now
	// on reaches it.
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	out := make(chan *alertingv1.WatchAlertsResponse, 16)
	go func() {
		defer close(out)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			out <- r
		}
	}()
	t.Cleanup(cancel)
	return out, cancel
}

func next(t *testing.T, ch <-chan *alertingv1.WatchAlertsResponse) *alertingv1.WatchAlertsResponse {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no case change within 10s")
	}
	return nil
}

func quiet(t *testing.T, ch <-chan *alertingv1.WatchAlertsResponse) {
	t.Helper()
	select {
	case r := <-ch:
		t.Errorf("unexpected change %v", r)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestWatchAlertsLiveAndResumed(t *testing.T) {
	h := start(t)
	high := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH
	live, stopLive := h.watch(t, keyA, &alertingv1.WatchAlertsRequest{})
	critical, _ := h.watch(t, keyA, &alertingv1.WatchAlertsRequest{MinSeverity: alertingv1.Severity_SEVERITY_CRITICAL})
	other, _ := h.watch(t, keyB, &alertingv1.WatchAlertsRequest{})

	h.publish(t, evaluated("ann", "f1", high, 2, false))
	opened := next(t, live)
	if opened.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED || opened.GetCase().GetCustomerId() != "ann" || opened.GetCursor() == "" {
		t.Fatalf("opened = %v", opened)
	}
	if c := next(t, critical); c.GetCase().GetCaseId() != opened.GetCase().GetCaseId() {
		t.Errorf("the critical watch got %v", c)
	}
	got, err := h.client.GetAlert(testkit.WithKey(keyA), &alertingv1.GetAlertRequest{CaseId: opened.GetCase().GetCaseId()})
	if err != nil || !proto.Equal(got.GetCase(), opened.GetCase()) {
		t.Errorf("GetAlert = %v, %v; want the watched case", got, err)
	}

	// The client goes away; two changes happen; it resumes from its cursor.
	stopLive()
	h.publish(t, evaluated("ann", "f2", high, 5, true), evaluated("cat", "f3", segmentationv1.ValueLevel_VALUE_LEVEL_LOW, 9, true))
	testkit.WaitStream(t, h.js, "RECOVERY", 3, 10*time.Second)
	resumed, _ := h.watch(t, keyA, &alertingv1.WatchAlertsRequest{ResumeAfter: opened.GetCursor()})
	byCustomer := map[string]*alertingv1.WatchAlertsResponse{}
	for range 2 { // the two customers' changes, in either order
		r := next(t, resumed)
		byCustomer[r.GetCase().GetCustomerId()] = r
	}
	if u := byCustomer["ann"]; u.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_UPDATED || u.GetCase().GetEventCount() != 2 {
		t.Errorf("ann's change when resumed: %v", u)
	}
	if c := byCustomer["cat"]; c.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED || c.GetCase().GetSeverity() != alertingv1.Severity_SEVERITY_MEDIUM {
		t.Errorf("cat's change when resumed: %v", c)
	}
	quiet(t, resumed)
	// The critical watch sees ann's critical case updated, not cat's medium one.
	if c := next(t, critical); c.GetCase().GetCustomerId() != "ann" || c.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_UPDATED {
		t.Errorf("the critical watch got %v", c)
	}
	quiet(t, critical)
	quiet(t, other) // tenant B sees nothing of tenant A

	if _, err := h.client.GetAlert(testkit.WithKey(keyB), &alertingv1.GetAlertRequest{CaseId: opened.GetCase().GetCaseId()}); status.Code(err) != codes.NotFound {
		t.Errorf("another tenant's GetAlert: %v, want NotFound", err)
	}
	stream, err := h.client.WatchAlerts(testkit.WithKey(keyA), &alertingv1.WatchAlertsRequest{ResumeAfter: "yesterday"})
	if err == nil {
		_, err = stream.Recv()
	}
	if v := testkit.FieldViolations(t, err); v["resume_after"] == "" {
		t.Errorf("violations %v", v)
	}
}
