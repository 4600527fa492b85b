package deliver_test

import (
	"slices"
	"testing"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/deliver"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
)

func TestReceiversOfTheDefaultRoutes(t *testing.T) {
	tree, err := routing.Default()
	if err != nil {
		t.Fatal(err)
	}
	const (
		opened    = alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED
		updated   = alertingv1.CaseEventType_CASE_EVENT_TYPE_UPDATED
		escalated = alertingv1.CaseEventType_CASE_EVENT_TYPE_ESCALATED
		critical  = alertingv1.Severity_SEVERITY_CRITICAL
		high      = alertingv1.Severity_SEVERITY_HIGH
		low       = alertingv1.Severity_SEVERITY_LOW
	)
	change := func(typ alertingv1.CaseEventType, sev alertingv1.Severity, value segmentationv1.ValueLevel, level int32, inhibited bool) *eventsv1.RecoveryCaseChanged {
		return &eventsv1.RecoveryCaseChanged{Type: typ, Inhibited: inhibited,
			Case: &alertingv1.RecoveryCase{Severity: sev, ValueLevel: value, EscalationLevel: level}}
	}
	hv, lv := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, segmentationv1.ValueLevel_VALUE_LEVEL_LOW
	for _, tc := range []struct {
		name string
		c    *eventsv1.RecoveryCaseChanged
		want []string
	}{
		{"critical pages", change(opened, critical, lv, 0, false), []string{"pagerduty", "slack", "webhook"}},
		{"high of a high-value customer pages", change(opened, high, hv, 0, false), []string{"pagerduty", "slack", "webhook"}},
		{"high of a low-value customer does not", change(opened, high, lv, 0, false), []string{"slack", "webhook"}},
		{"low", change(opened, low, lv, 0, false), []string{"slack", "webhook"}},
		{"an inhibited update reaches no one", change(updated, critical, hv, 0, true), nil},
		{"escalation level 1 adds its receiver once", change(escalated, low, lv, 1, false), []string{"slack", "webhook"}},
		{"escalation level 2 pages", change(escalated, high, lv, 2, false), []string{"slack", "webhook", "pagerduty"}},
		{"beyond the escalation list", change(escalated, high, lv, 3, false), []string{"slack", "webhook"}},
	} {
		if got := deliver.Receivers(tree, tc.c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
