package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/alerting/internal/backtest"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

// DefaultLookback is how far back a backtest replays when the request does
// not say.
const DefaultLookback = 7 * 24 * time.Hour

// SkippedTrailer is the response trailer counting the messages a backtest
// could not read and left out (the response has no field for it).
const SkippedTrailer = "feedloop-backtest-skipped"

// BacktestRules replays the caller's recent evaluated events and tier
// changes against a candidate rule file and counts what each rule would
// have done, without opening any case (see package backtest for the
// simulation's assumptions).
func (s *Service) BacktestRules(ctx context.Context, req *alertingv1.BacktestRulesRequest) (*alertingv1.BacktestRulesResponse, error) {
	var bad []*grpcx.FieldViolation
	rs, err := rules.Load(strings.NewReader(req.GetRulesYaml()), "rules_yaml")
	if err != nil {
		bad = append(bad, &grpcx.FieldViolation{Field: "rules_yaml", Description: err.Error()})
	}
	lookback := DefaultLookback
	if req.GetLookback() != nil {
		lookback = req.GetLookback().AsDuration()
		if err := req.GetLookback().CheckValid(); err != nil || lookback <= 0 {
			bad = append(bad, &grpcx.FieldViolation{Field: "lookback", Description: "must be a positive duration"})
		}
	}
	if len(bad) > 0 {
		return nil, grpcx.InvalidArgument(bad).Err()
	}
	r, err := backtest.Replay(ctx, s.js, backtest.Query{Tenant: grpcx.Tenant(ctx), Rules: rs, Lookback: lookback}, s.sla)
	switch {
	case errors.Is(err, backtest.ErrBeyondRetention):
		return nil, grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: "lookback", Description: err.Error()}}).Err()
	case errors.Is(err, backtest.ErrTooManyMessages):
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case err != nil:
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs(SkippedTrailer, strconv.FormatInt(r.Skipped, 10)))
	out := &alertingv1.BacktestRulesResponse{EventsReplayed: r.Events, TotalCases: r.TotalCases}
	for _, rr := range r.Rules {
		out.Rules = append(out.Rules, &alertingv1.RuleBacktest{
			Rule: rr.Rule, Matches: rr.Matches, Cases: rr.Cases, DistinctCustomers: rr.DistinctCustomers,
		})
	}
	return out, nil
}
