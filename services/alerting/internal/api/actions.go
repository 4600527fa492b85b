package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// AcknowledgeAlert records that a person owns an open case.
func (s *Service) AcknowledgeAlert(ctx context.Context, req *alertingv1.AcknowledgeAlertRequest) (*alertingv1.AcknowledgeAlertResponse, error) {
	c, err := s.transition(ctx, req.GetCaseId(), "acknowledge", func(c *cases.Case, now time.Time) error {
		return c.Acknowledge(req.GetBy(), now)
	})
	if err != nil {
		return nil, err
	}
	return &alertingv1.AcknowledgeAlertResponse{Case: c}, nil
}

// ResolveAlert closes an open or acknowledged case with the recovery
// actions taken and the root cause.
func (s *Service) ResolveAlert(ctx context.Context, req *alertingv1.ResolveAlertRequest) (*alertingv1.ResolveAlertResponse, error) {
	// The proto's rules let through what only the domain rejects (a blank
	// root cause, a compensation of no amount): check it before reading the
	// case, so that the violation names the resolution.
	r := casepb.Resolution(req.GetResolution())
	if err := r.Validate(); err != nil {
		return nil, invalid("resolution", err)
	}
	c, err := s.transition(ctx, req.GetCaseId(), "resolve", func(c *cases.Case, now time.Time) error {
		return c.Resolve(req.GetBy(), r, now, s.sla)
	})
	if err != nil {
		return nil, err
	}
	return &alertingv1.ResolveAlertResponse{Case: c}, nil
}

// ReopenAlert opens a resolved case again.
func (s *Service) ReopenAlert(ctx context.Context, req *alertingv1.ReopenAlertRequest) (*alertingv1.ReopenAlertResponse, error) {
	c, err := s.transition(ctx, req.GetCaseId(), "reopen", func(c *cases.Case, now time.Time) error {
		return c.Reopen(req.GetBy(), req.GetReason(), now, s.sla)
	})
	if err != nil {
		return nil, err
	}
	return &alertingv1.ReopenAlertResponse{Case: c}, nil
}

// transition applies a person's change (verb names it for errors) to the
// caller's case id, commits and announces it, and returns the case after
// it. A cases.ErrInvalid of the change is about the person ("by"): the
// handlers check the rest of their input first.
func (s *Service) transition(ctx context.Context, id, verb string, change func(c *cases.Case, now time.Time) error) (*alertingv1.RecoveryCase, error) {
	var state cases.State // as the change found it, for the error
	c, err := s.ann.Change(ctx, grpcx.Tenant(ctx), id, func(c *cases.Case, now time.Time) error {
		state = c.State
		return change(c, now)
	})
	switch {
	case err == nil:
		return casepb.Case(c), nil
	case errors.Is(err, announce.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no case %q", id)
	case errors.Is(err, cases.ErrIllegalTransition):
		msg := fmt.Sprintf("cannot %s case %q: it is %s", verb, id, state)
		st, derr := status.New(codes.FailedPrecondition, msg).WithDetails(&errdetails.PreconditionFailure{
			Violations: []*errdetails.PreconditionFailure_Violation{{Type: "STATE", Subject: "case/" + id, Description: msg}},
		})
		if derr != nil {
			return nil, status.Error(codes.FailedPrecondition, msg)
		}
		return nil, st.Err()
	case errors.Is(err, cases.ErrInvalid):
		return nil, invalid("by", err)
	case errors.Is(err, redisx.ErrContended):
		return nil, status.Errorf(codes.Aborted, "case %q kept changing while %s was tried; try again", id, verb)
	}
	return nil, storeError(ctx, err)
}

// invalid is InvalidArgument for a domain error about field.
func invalid(field string, err error) error {
	desc := strings.TrimPrefix(err.Error(), cases.ErrInvalid.Error()+": ")
	return grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: field, Description: desc}}).Err()
}

// storeError is the status of a failure to read or write cases: Internal
// for a record that cannot be decoded, the caller's own cancellation or
// deadline, else Unavailable (Redis cannot be reached).
func storeError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return status.Error(codes.Internal, err.Error())
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Error(codes.Unavailable, err.Error())
}
