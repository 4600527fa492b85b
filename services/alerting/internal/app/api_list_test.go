package app_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

const (
	critical = alertingv1.Severity_SEVERITY_CRITICAL
	high     = alertingv1.Severity_SEVERITY_HIGH
	medium   = alertingv1.Severity_SEVERITY_MEDIUM

	stateOpen         = alertingv1.CaseState_CASE_STATE_OPEN
	stateAcknowledged = alertingv1.CaseState_CASE_STATE_ACKNOWLEDGED
	stateResolved     = alertingv1.CaseState_CASE_STATE_RESOLVED
)

// opening is feedback of tenant's customer that the default rules open a
// case of severity sev for (critical: a high-value detractor; high and
// medium: a complaint of a medium- and a low-value customer), the customer
// in tier, evaluated at at (the case's opening time).
func opening(tenant, customer string, sev alertingv1.Severity, tier string, at time.Time) bus.Outgoing {
	var o bus.Outgoing
	switch sev {
	case critical:
		o = evaluated(customer, customer+"-opens", segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false)
	case high:
		o = evaluated(customer, customer+"-opens", segmentationv1.ValueLevel_VALUE_LEVEL_MEDIUM, 5, true)
	default:
		o = evaluated(customer, customer+"-opens", segmentationv1.ValueLevel_VALUE_LEVEL_LOW, 5, true)
	}
	ev := o.Msg.(*eventsv1.CustomerEvaluated)
	ev.TenantId = tenant
	ev.GetFeedback().GetReceived().TenantId = tenant
	ev.Profile.Tier, ev.Profile.UpdatedAt = tier, timestamppb.New(at)
	o.Subject, o.ID = bus.Subject(bus.CustomerEvaluated, tenant), tenant+"/"+customer+"-opens"
	return o
}

// open publishes openings and returns the cases they opened, by customer.
func (h *harness) open(t *testing.T, openings ...bus.Outgoing) map[string]*alertingv1.RecoveryCase {
	t.Helper()
	h.publish(t, openings...)
	h.waitIdle(t)
	out := map[string]*alertingv1.RecoveryCase{}
	for _, m := range testkit.StreamMessages(t, h.js, "RECOVERY") {
		c := new(eventsv1.RecoveryCaseChanged)
		if err := proto.Unmarshal(m.Data, c); err != nil {
			t.Fatal(err)
		}
		if c.GetType() == alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED {
			out[c.GetCase().GetCustomerId()] = c.GetCase()
		}
	}
	for _, o := range openings {
		if customer := o.Msg.(*eventsv1.CustomerEvaluated).GetProfile().GetCustomerId(); out[customer] == nil {
			t.Fatalf("no case opened for %s", customer)
		}
	}
	return out
}

// list pages through ListAlerts with req (at most 20 pages) and returns
// the case ids in the order listed.
func (h *harness) list(t *testing.T, key string, req *alertingv1.ListAlertsRequest) []string {
	t.Helper()
	req = proto.CloneOf(req)
	var ids []string
	for range 20 {
		resp, err := h.client.ListAlerts(testkit.WithKey(key), req)
		if err != nil {
			t.Fatalf("ListAlerts(%v): %v", req, err)
		}
		size := req.GetPageSize()
		if size == 0 {
			size = 50
		}
		if int32(len(resp.GetCases())) > size {
			t.Fatalf("a page of %d cases, asked for %d", len(resp.GetCases()), size)
		}
		for _, c := range resp.GetCases() {
			ids = append(ids, c.GetCaseId())
		}
		if resp.GetNextPageToken() == "" {
			return ids
		}
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatalf("ListAlerts(%v) still had pages after 20", req)
	return nil
}

func TestListAlerts(t *testing.T) {
	h := start(t)
	m := time.Minute
	cs := h.open(t,
		opening("tenant-a", "ann", critical, "champion", t0.Add(-3*m)),
		opening("tenant-a", "bob", high, "loyal", t0.Add(-2*m)),
		opening("tenant-a", "cat", medium, "loyal", t0.Add(-m)),
		opening("tenant-a", "dan", medium, "potential", t0),
		opening("tenant-a", "eve", critical, "loyal", t0),
		opening("tenant-b", "zed", critical, "loyal", t0),
	)
	ctx := testkit.WithKey(keyA)
	if _, err := h.client.AcknowledgeAlert(ctx, &alertingv1.AcknowledgeAlertRequest{CaseId: cs["bob"].GetCaseId(), By: "olivia"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.ResolveAlert(ctx, &alertingv1.ResolveAlertRequest{CaseId: cs["cat"].GetCaseId(), By: "olivia", Resolution: &alertingv1.Resolution{
		RootCause: "late courier", Actions: []*alertingv1.RecoveryAction{{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY}},
	}}); err != nil {
		t.Fatal(err)
	}

	// Newest opened first; dan and eve opened in the same millisecond, in
	// an order of their own that every listing keeps.
	all := h.list(t, keyA, &alertingv1.ListAlertsRequest{})
	tied := all[:2]
	if want := []string{cs["cat"].GetCaseId(), cs["bob"].GetCaseId(), cs["ann"].GetCaseId()}; len(all) != 5 || !slices.Equal(all[2:], want) ||
		!slices.Contains(tied, cs["dan"].GetCaseId()) || !slices.Contains(tied, cs["eve"].GetCaseId()) {
		t.Fatalf("listed %v", all)
	}
	only := func(customers ...string) []string {
		var out []string
		for _, id := range all {
			for _, c := range customers {
				if cs[c].GetCaseId() == id {
					out = append(out, id)
				}
			}
		}
		return out
	}
	tests := []struct {
		name string
		req  *alertingv1.ListAlertsRequest
		want []string
	}{
		{"all in pages of 2", &alertingv1.ListAlertsRequest{PageSize: 2}, all},
		{"all in pages of 1", &alertingv1.ListAlertsRequest{PageSize: 1}, all},
		{"open", &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{stateOpen}, PageSize: 1}, only("ann", "dan", "eve")},
		{"acknowledged or resolved", &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{stateResolved, stateAcknowledged}, PageSize: 1}, only("bob", "cat")},
		{"high and above", &alertingv1.ListAlertsRequest{MinSeverity: high, PageSize: 2}, only("ann", "bob", "eve")},
		{"a customer", &alertingv1.ListAlertsRequest{CustomerId: "cat"}, only("cat")},
		{"a customer and another state", &alertingv1.ListAlertsRequest{CustomerId: "cat", States: []alertingv1.CaseState{stateOpen}}, nil},
		{"another tenant's customer", &alertingv1.ListAlertsRequest{CustomerId: "zed"}, nil},
		{"a tier", &alertingv1.ListAlertsRequest{Tier: "loyal", PageSize: 1}, only("bob", "cat", "eve")},
		{"a tier and a severity", &alertingv1.ListAlertsRequest{Tier: "loyal", MinSeverity: critical}, only("eve")},
		{"a tier nobody is in", &alertingv1.ListAlertsRequest{Tier: "lost"}, nil},
	}
	for _, tt := range tests {
		if got := h.list(t, keyA, tt.req); !slices.Equal(got, tt.want) {
			t.Errorf("%s: listed %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := h.list(t, keyB, &alertingv1.ListAlertsRequest{}); !slices.Equal(got, []string{cs["zed"].GetCaseId()}) {
		t.Errorf("tenant B listed %v, want its one case", got)
	}

	// A page token holds the filters it was made for.
	first, err := h.client.ListAlerts(ctx, &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{stateOpen}, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	bad := []struct {
		name string
		req  *alertingv1.ListAlertsRequest
	}{
		{"garbage", &alertingv1.ListAlertsRequest{PageToken: "garbage"}},
		{"other filters", &alertingv1.ListAlertsRequest{Tier: "loyal", PageToken: first.GetNextPageToken()}},
		{"no filters", &alertingv1.ListAlertsRequest{PageToken: first.GetNextPageToken()}},
	}
	for _, tt := range bad {
		_, err := h.client.ListAlerts(ctx, tt.req)
		if v := testkit.FieldViolations(t, err); v["page_token"] == "" {
			t.Errorf("%s: violations %v, want page_token", tt.name, v)
		}
	}
	_, err = h.client.ListAlerts(ctx, &alertingv1.ListAlertsRequest{PageSize: 1001, States: []alertingv1.CaseState{alertingv1.CaseState_CASE_STATE_UNSPECIFIED}})
	if v := testkit.FieldViolations(t, err); v["page_size"] == "" {
		t.Errorf("violations %v, want page_size", v)
	}
	_, err = h.client.ListAlerts(ctx, &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{alertingv1.CaseState_CASE_STATE_UNSPECIFIED}})
	if v := testkit.FieldViolations(t, err); v["states[0]"] == "" {
		t.Errorf("violations %v, want states[0]", v)
	}
}
