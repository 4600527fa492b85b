package api

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/report"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Recovery report windows: the default (ending now), the longest, and the
// most cases one report reads (a window holding more is refused).
const (
	DefaultReportWindow = 30 * 24 * time.Hour
	MaxReportWindow     = 366 * 24 * time.Hour
	MaxReportCases      = 200_000
)

// GetRecoveryReport measures the caller's cases opened in [start_time,
// end_time): in total, per severity (every one, low to critical) and per
// tier at opening (by name). A window that holds more than MaxReportCases
// cases is ResourceExhausted (as a backtest too long is): the report would
// describe part of it; ask for a shorter one.
func (s *Service) GetRecoveryReport(ctx context.Context, req *alertingv1.GetRecoveryReportRequest) (*alertingv1.GetRecoveryReportResponse, error) {
	from, to, violations := reportWindow(req, time.Now())
	if len(violations) > 0 {
		return nil, grpcx.InvalidArgument(violations).Err()
	}
	cs, err := s.store.Opened(ctx, grpcx.Tenant(ctx), from, to, MaxReportCases)
	switch {
	case errors.Is(err, store.ErrTooMany):
		return nil, status.Errorf(codes.ResourceExhausted, "%v; ask for a shorter window", err)
	case err != nil:
		return nil, storeError(ctx, err)
	}
	resp := &alertingv1.GetRecoveryReportResponse{Total: summary(alertingv1.Severity_SEVERITY_UNSPECIFIED, report.Of(cs))}
	bySeverity := report.BySeverity(cs)
	for sev := alert.Low; sev <= alert.Critical; sev++ {
		resp.BySeverity = append(resp.BySeverity, summary(alertingv1.Severity(sev), bySeverity[sev]))
	}
	byTier := report.ByTier(cs)
	for _, tier := range slices.Sorted(maps.Keys(byTier)) {
		resp.ByTier = append(resp.ByTier, &alertingv1.TierSummary{Tier: tier, Summary: summary(alertingv1.Severity_SEVERITY_UNSPECIFIED, byTier[tier])})
	}
	return resp, nil
}

// reportWindow is the request's window: a missing end is now, a missing
// start DefaultReportWindow before the end.
func reportWindow(req *alertingv1.GetRecoveryReportRequest, now time.Time) (from, to time.Time, violations []*grpcx.FieldViolation) {
	to = now
	if t := req.GetEndTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			violations = append(violations, &grpcx.FieldViolation{Field: "end_time", Description: err.Error()})
		}
		to = t.AsTime()
	}
	from = to.Add(-DefaultReportWindow)
	if t := req.GetStartTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			violations = append(violations, &grpcx.FieldViolation{Field: "start_time", Description: err.Error()})
		}
		from = t.AsTime()
	}
	switch {
	case len(violations) > 0:
	case !from.Before(to):
		violations = append(violations, &grpcx.FieldViolation{Field: "start_time", Description: "must be before end_time"})
	case to.Sub(from) > MaxReportWindow:
		violations = append(violations, &grpcx.FieldViolation{Field: "start_time", Description: "the window must be at most 366 days"})
	}
	return from, to, violations
}

// summary is the API form of s. The times to acknowledge and to resolve
// are left unset without a case acknowledged or resolved.
func summary(sev alertingv1.Severity, s report.Summary) *alertingv1.SeveritySummary {
	p := &alertingv1.SeveritySummary{
		Severity: sev,
		Opened:   s.Opened, Acknowledged: s.Acknowledged, Resolved: s.Resolved, Escalated: s.Escalated,
		AcknowledgeSlaMet: s.AcknowledgeSLAMet, ResolveSlaMet: s.ResolveSLAMet,
		OutcomesMeasured: s.OutcomesMeasured, RecoveryRate: s.RecoveryRate,
	}
	if s.Acknowledged > 0 {
		p.MedianTimeToAcknowledge, p.P90TimeToAcknowledge = durationpb.New(s.AcknowledgeP50), durationpb.New(s.AcknowledgeP90)
	}
	if s.Resolved > 0 {
		p.MedianTimeToResolve, p.P90TimeToResolve = durationpb.New(s.ResolveP50), durationpb.New(s.ResolveP90)
	}
	return p
}
