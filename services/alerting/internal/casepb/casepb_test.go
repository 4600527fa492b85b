package casepb

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

func TestResolution(t *testing.T) {
	eur := &intakev1.Money{AmountMinor: 1500, Currency: "EUR"}
	tests := []struct {
		name string
		in   *alertingv1.Resolution
		want cases.Resolution
		// back: Case shows the resolution as it came in.
		back bool
	}{
		{"none", nil, cases.Resolution{}, false},
		{"apology and compensation", &alertingv1.Resolution{RootCause: "late courier", Actions: []*alertingv1.RecoveryAction{
			{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_APOLOGY, Note: "called"},
			{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION, Compensation: eur},
		}}, cases.Resolution{RootCause: "late courier", Actions: []cases.Action{
			{Type: cases.Apology, Note: "called"},
			{Type: cases.Compensation, Compensation: cases.Money{Amount: 1500, Currency: "EUR"}},
		}}, true},
		{"an amount only on a compensation", &alertingv1.Resolution{RootCause: "bug", Actions: []*alertingv1.RecoveryAction{
			{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_FIX, Compensation: eur},
		}}, cases.Resolution{RootCause: "bug", Actions: []cases.Action{{Type: cases.Fix}}}, false},
		{"a compensation without an amount", &alertingv1.Resolution{RootCause: "bug", Actions: []*alertingv1.RecoveryAction{
			{Type: alertingv1.RecoveryActionType_RECOVERY_ACTION_TYPE_COMPENSATION},
		}}, cases.Resolution{RootCause: "bug", Actions: []cases.Action{{Type: cases.Compensation}}}, false},
	}
	for _, tt := range tests {
		got := Resolution(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
		if tt.back {
			if back := Case(&cases.Case{Resolution: &got}).GetResolution(); !proto.Equal(back, tt.in) {
				t.Errorf("%s: back %v, want %v", tt.name, back, tt.in)
			}
		}
	}
}
