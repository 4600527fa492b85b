package api

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/report"
)

func TestReportWindow(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	tests := []struct {
		name       string
		start, end *timestamppb.Timestamp
		from, to   time.Time
		bad        []string
	}{
		{"default: the last 30 days", nil, nil, now.Add(-30 * day), now, nil},
		{"a start: until now", at(-2 * day), nil, now.Add(-2 * day), now, nil},
		{"an end: the 30 days before", nil, at(-day), now.Add(-31 * day), now.Add(-day), nil},
		{"both", at(-3 * day), at(-day), now.Add(-3 * day), now.Add(-day), nil},
		{"366 days", at(-366 * day), nil, now.Add(-366 * day), now, nil},
		{"longer", at(-366*day - time.Second), nil, time.Time{}, time.Time{}, []string{"start_time"}},
		{"start at the end", at(-day), at(-day), time.Time{}, time.Time{}, []string{"start_time"}},
		{"start after the end", at(0), at(-day), time.Time{}, time.Time{}, []string{"start_time"}},
		{"invalid timestamps", &timestamppb.Timestamp{Nanos: -1}, &timestamppb.Timestamp{Seconds: 1 << 62}, time.Time{}, time.Time{}, []string{"end_time", "start_time"}},
	}
	for _, tt := range tests {
		from, to, violations := reportWindow(&alertingv1.GetRecoveryReportRequest{StartTime: tt.start, EndTime: tt.end}, now)
		var bad []string
		for _, v := range violations {
			bad = append(bad, v.GetField())
		}
		if !slices.Equal(bad, tt.bad) {
			t.Errorf("%s: violations on %v, want %v", tt.name, bad, tt.bad)
		}
		if len(tt.bad) == 0 && (!from.Equal(tt.from) || !to.Equal(tt.to)) {
			t.Errorf("%s: window [%v, %v), want [%v, %v)", tt.name, from, to, tt.from, tt.to)
		}
	}
}

func TestSummary(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name string
		in   report.Summary
		want *alertingv1.SeveritySummary
	}{
		{"nothing opened", report.Summary{}, &alertingv1.SeveritySummary{Severity: alertingv1.Severity_SEVERITY_LOW}},
		{"open only: no times", report.Summary{Opened: 2}, &alertingv1.SeveritySummary{Severity: alertingv1.Severity_SEVERITY_LOW, Opened: 2}},
		{"acknowledged and resolved", report.Summary{
			Opened: 3, Acknowledged: 2, Resolved: 1, Escalated: 1,
			AcknowledgeP50: 5 * m, AcknowledgeP90: 9 * m, ResolveP50: 60 * m, ResolveP90: 90 * m,
			AcknowledgeSLAMet: 1, ResolveSLAMet: 0.5, OutcomesMeasured: 1, RecoveryRate: 1,
		}, &alertingv1.SeveritySummary{
			Severity: alertingv1.Severity_SEVERITY_LOW, Opened: 3, Acknowledged: 2, Resolved: 1, Escalated: 1,
			MedianTimeToAcknowledge: durationpb.New(5 * m), P90TimeToAcknowledge: durationpb.New(9 * m),
			MedianTimeToResolve: durationpb.New(60 * m), P90TimeToResolve: durationpb.New(90 * m),
			AcknowledgeSlaMet: 1, ResolveSlaMet: 0.5, OutcomesMeasured: 1, RecoveryRate: 1,
		}},
	}
	for _, tt := range tests {
		if got := summary(alertingv1.Severity_SEVERITY_LOW, tt.in); !proto.Equal(got, tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, got, tt.want)
		}
	}
}
