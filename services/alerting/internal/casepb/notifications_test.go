package casepb_test

import (
	"testing"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

func TestNotificationsSumAttemptsPerDelivery(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	got := casepb.Notifications([]store.Attempt{
		{ChangeID: "c/0", Change: cases.ChangeOpened, Receiver: "slack", Number: 1, At: at(0), Outcome: store.Failed, Error: "HTTP 503"},
		{ChangeID: "c/0", Change: cases.ChangeOpened, Receiver: "pagerduty", Number: 1, At: at(0), Outcome: store.Sent},
		{ChangeID: "c/0", Change: cases.ChangeOpened, Receiver: "slack", Number: 2, At: at(2), Outcome: store.Sent},
		{ChangeID: "c/1", Change: cases.ChangeFollowUpDue, Receiver: "pagerduty", Number: 1, At: at(9), Outcome: store.Skipped},
		{ChangeID: "c/2", Change: cases.ChangeResolved, Receiver: "webhook", Number: 1, At: at(5), Outcome: store.Failed, Error: "HTTP 400"},
	})
	want := []struct {
		receiver string
		trigger  alertingv1.CaseEventType
		attempts int32
		success  bool
		err      string
		at       time.Time
	}{
		{"slack", alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED, 2, true, "", at(2)},
		{"pagerduty", alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED, 1, true, "", at(0)},
		{"pagerduty", alertingv1.CaseEventType_CASE_EVENT_TYPE_FOLLOW_UP_DUE, 1, false, "skipped: the receiver does not take this change", at(9)},
		{"webhook", alertingv1.CaseEventType_CASE_EVENT_TYPE_RESOLVED, 1, false, "HTTP 400", at(5)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d notifications, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.GetReceiver() != w.receiver || g.GetTrigger() != w.trigger || g.GetAttempts() != w.attempts ||
			g.GetSuccess() != w.success || g.GetError() != w.err || !g.GetSentAt().AsTime().Equal(w.at) {
			t.Errorf("notification %d = %v, want %+v", i, g, w)
		}
	}
}
