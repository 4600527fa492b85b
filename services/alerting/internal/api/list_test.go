package api

import (
	"encoding/base64"
	"slices"
	"testing"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

func TestPageToken(t *testing.T) {
	open := []cases.State{cases.Open}
	cursor := store.Cursor{Opened: 1780304400123, ID: "0a1b2c"}
	made := store.Filter{States: open, MinSeverity: alert.High, CustomerID: "ann", Tier: "loyal"}
	token := encodeToken(cursor, made)
	tests := []struct {
		name  string
		token string
		f     store.Filter
		ok    bool
	}{
		{"the same filters", token, made, true},
		{"no filters", encodeToken(cursor, store.Filter{}), store.Filter{}, true},
		{"other states", token, store.Filter{States: []cases.State{cases.Resolved}, MinSeverity: alert.High, CustomerID: "ann", Tier: "loyal"}, false},
		{"no states", token, store.Filter{MinSeverity: alert.High, CustomerID: "ann", Tier: "loyal"}, false},
		{"another severity", token, store.Filter{States: open, MinSeverity: alert.Low, CustomerID: "ann", Tier: "loyal"}, false},
		{"another customer", token, store.Filter{States: open, MinSeverity: alert.High, CustomerID: "bob", Tier: "loyal"}, false},
		{"another tier", token, store.Filter{States: open, MinSeverity: alert.High, CustomerID: "ann"}, false},
		{"not base64", "!!!", store.Filter{}, false},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("yesterday")), store.Filter{}, false},
		{"no case", base64.RawURLEncoding.EncodeToString([]byte(`{"o":1}`)), store.Filter{}, false},
	}
	for _, tt := range tests {
		got, err := decodeToken(tt.token, tt.f)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
		if tt.ok && got != cursor {
			t.Errorf("%s: cursor %+v, want %+v", tt.name, got, cursor)
		}
	}
}

func TestListFilter(t *testing.T) {
	const (
		open     = alertingv1.CaseState_CASE_STATE_OPEN
		resolved = alertingv1.CaseState_CASE_STATE_RESOLVED
	)
	tests := []struct {
		name string
		req  *alertingv1.ListAlertsRequest
		want store.Filter
		bad  []string
	}{
		{"none", &alertingv1.ListAlertsRequest{}, store.Filter{}, nil},
		{"every filter", &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{open}, MinSeverity: alertingv1.Severity_SEVERITY_HIGH, CustomerId: "ann", Tier: "loyal"},
			store.Filter{States: []cases.State{cases.Open}, MinSeverity: alert.High, CustomerID: "ann", Tier: "loyal"}, nil},
		{"states sorted, once each", &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{resolved, open, resolved}},
			store.Filter{States: []cases.State{cases.Open, cases.Resolved}}, nil},
		{"an unspecified state", &alertingv1.ListAlertsRequest{States: []alertingv1.CaseState{open, alertingv1.CaseState_CASE_STATE_UNSPECIFIED}},
			store.Filter{States: []cases.State{cases.Open}}, []string{"states[1]"}},
		{"an unknown severity", &alertingv1.ListAlertsRequest{MinSeverity: 9}, store.Filter{MinSeverity: 9}, []string{"min_severity"}},
	}
	for _, tt := range tests {
		got, violations := listFilter(tt.req)
		var bad []string
		for _, v := range violations {
			bad = append(bad, v.GetField())
		}
		if !slices.Equal(bad, tt.bad) {
			t.Errorf("%s: violations on %v, want %v", tt.name, bad, tt.bad)
		}
		if !slices.Equal(got.States, tt.want.States) || got.MinSeverity != tt.want.MinSeverity || got.CustomerID != tt.want.CustomerID || got.Tier != tt.want.Tier {
			t.Errorf("%s: filter %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPageSize(t *testing.T) {
	for _, tt := range []struct{ asked, want int }{{0, 50}, {-1, 50}, {1, 1}, {1000, 1000}, {1001, 1000}} {
		if got := pageSize(int32(tt.asked)); got != tt.want {
			t.Errorf("pageSize(%d) = %d, want %d", tt.asked, got, tt.want)
		}
	}
}
