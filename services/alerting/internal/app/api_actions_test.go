package app_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

func action(typ alertingv1.RecoveryActionType, amount int64) *alertingv1.RecoveryAction {
	a := &alertingv1.RecoveryAction{Type: typ, Note: "done"}
	if typ == alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION {
		a.Compensation = &intakev1.Money{AmountMinor: amount, Currency: "EUR"}
	}
	return a
}

const (
	apology      = alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY
	compensation = alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION
)

func TestAcknowledgeResolveReopen(t *testing.T) {
	h := start(t)
	cs := h.open(t, opening("tenant-a", "ann", critical, "champion", t0), opening("tenant-a", "bob", medium, "loyal", t0))
	id := cs["ann"].GetCaseId()
	ctx := testkit.WithKey(keyA)
	watch, _ := h.watch(t, keyA, &alertingv1.WatchAlertsRequest{})

	// Acknowledge: the case, and its change on the watch.
	ack, err := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: id, By: "olivia"})
	if err != nil {
		t.Fatal(err)
	}
	if c := ack.GetCase(); c.GetState() != stateAcknowledged || c.GetAcknowledgedBy() != "olivia" || c.GetAcknowledgedAt() == nil || c.GetCaseId() != id {
		t.Errorf("acknowledged %v", c)
	}
	if w := next(t, watch); w.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_ACKNOWLEDGED || !proto.Equal(w.GetCase(), ack.GetCase()) {
		t.Errorf("watched %v, want the acknowledged case", w)
	}
	_, err = h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: id, By: "olivia"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "it is acknowledged") {
		t.Errorf("acknowledging twice: %v, want FailedPrecondition", err)
	}

	// What the proto's rules reject, and what only the domain does.
	resolution := func(rootCause string, actions ...*alertingv1.RecoveryAction) *alertingv1.Resolution {
		return &alertingv1.Resolution{RootCause: rootCause, Actions: actions}
	}
	invalid := []struct {
		name  string
		req   *alertingv1.ResolveAlertRequest
		field string
	}{
		{"no actions", &alertingv1.ResolveAlertRequest{CaseId: id, By: "olivia", Resolution: resolution("late courier")}, "resolution.actions"},
		{"no resolution", &alertingv1.ResolveAlertRequest{CaseId: id, By: "olivia"}, "resolution"},
		{"a compensation of nothing", &alertingv1.ResolveAlertRequest{CaseId: id, By: "olivia", Resolution: resolution("late courier", action(compensation, 0))}, "resolution"},
		{"a blank root cause", &alertingv1.ResolveAlertRequest{CaseId: id, By: "olivia", Resolution: resolution("  ", action(apology, 0))}, "resolution"},
		{"nobody", &alertingv1.ResolveAlertRequest{CaseId: id, By: " ", Resolution: resolution("late courier", action(apology, 0))}, "by"},
	}
	for _, tt := range invalid {
		_, err := h.client.ResolveAlert(ctx, tt.req)
		if v := testkit.FieldViolations(t, err); v[tt.field] == "" {
			t.Errorf("%s: violations %v, want %s", tt.name, v, tt.field)
		}
	}

	// Resolve with an apology and a compensation.
	want := resolution("late courier", action(apology, 0), action(compensation, 1500))
	res, err := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: id, By: "olivia", Resolution: want})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.GetCase(); c.GetState() != stateResolved || c.GetResolvedBy() != "olivia" || !proto.Equal(c.GetResolution(), want) {
		t.Errorf("resolved %v", c)
	}
	if w := next(t, watch); w.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_RESOLVED || !proto.Equal(w.GetCase().GetResolution(), want) {
		t.Errorf("watched %v, want the resolution", w)
	}

	// Reopen: open again, without its acknowledgement and resolution.
	reopened, err := h.client.ReopenAlert(ctx, &alertingv1.ReopenAlertRequest{CaseId: id, By: "olivia", Reason: "the parcel is still missing"})
	if err != nil {
		t.Fatal(err)
	}
	if c := reopened.GetCase(); c.GetState() != stateOpen || c.GetResolution() != nil || c.GetAcknowledgedBy() != "" {
		t.Errorf("reopened %v", c)
	}
	if w := next(t, watch); w.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_REOPENED || w.GetCase().GetState() != stateOpen {
		t.Errorf("watched %v, want the reopened case", w)
	}
	if _, err := h.client.ReopenAlert(ctx, &alertingv1.ReopenAlertRequest{CaseId: id, By: "olivia"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("reopening an open case: %v, want FailedPrecondition", err)
	}

	// An open case may be resolved without an acknowledgement.
	direct, err := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: cs["bob"].GetCaseId(), By: "olivia", Resolution: resolution("bug", action(apology, 0))})
	if err != nil || direct.GetCase().GetState() != stateResolved || direct.GetCase().GetAcknowledgedAt() != nil {
		t.Errorf("resolved from open: %v, %v", direct, err)
	}
	if _, err := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: cs["bob"].GetCaseId(), By: "olivia"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("acknowledging a resolved case: %v, want FailedPrecondition", err)
	}

	// Unknown cases, and another tenant's, are not found; the case is
	// unchanged.
	valid := resolution("late courier", action(apology, 0))
	for _, c := range []struct {
		key, id string
	}{{keyA, "no-such-case"}, {keyB, id}} {
		ctx := testkit.WithKey(c.key)
		_, ackErr := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: c.id, By: "mallory"})
		_, resolveErr := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: c.id, By: "mallory", Resolution: valid})
		_, reopenErr := h.client.ReopenAlert(ctx, &alertingv1.ReopenAlertRequest{CaseId: c.id, By: "mallory"})
		for name, err := range map[string]error{"acknowledge": ackErr, "resolve": resolveErr, "reopen": reopenErr} {
			if status.Code(err) != codes.NotFound {
				t.Errorf("%s %s with key %s: %v, want NotFound", name, c.id, c.key, err)
			}
		}
	}
	got, err := h.client.GetAlert(ctx, &alertingv1.GetAlertRequest{CaseId: id})
	if err != nil || !proto.Equal(got.GetCase(), reopened.GetCase()) {
		t.Errorf("after the refused changes: %v, %v; want the reopened case", got, err)
	}
	if w := next(t, watch); w.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_RESOLVED || w.GetCase().GetCustomerId() != "bob" {
		t.Errorf("watched %v, want bob's resolution", w)
	}
	quiet(t, watch)
}
