// Package api implements the AlertingService: the caller's cases listed,
// read, acknowledged, resolved and reopened, their changes watched, and the
// recovery report. Every call sees only the caller's tenant.
package api

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Service is the AlertingService.
type Service struct {
	alertingv1.UnimplementedAlertingServiceServer

	store *store.Store
	js    jetstream.JetStream
	sla   cases.SLA
	ann   *announce.Announcer
}

// New returns the service; js reads the RECOVERY stream for WatchAlerts
// and the CUSTOMERS stream for backtests, which decide cases with sla; ann
// makes and announces the changes people make to cases (with sla).
func New(st *store.Store, js jetstream.JetStream, sla cases.SLA, ann *announce.Announcer) *Service {
	return &Service{store: st, js: js, sla: sla, ann: ann}
}

// GetAlert returns one of the caller's cases with its history and its
// notifications: per change and receiver, the attempts and how the last
// ended.
func (s *Service) GetAlert(ctx context.Context, req *alertingv1.GetAlertRequest) (*alertingv1.GetAlertResponse, error) {
	l, err := s.store.Get(ctx, grpcx.Tenant(ctx), req.GetCaseId())
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return nil, status.Error(codes.Internal, err.Error())
	case err != nil:
		return nil, status.Error(codes.Unavailable, err.Error())
	case l.Case == nil:
		return nil, status.Errorf(codes.NotFound, "no case %q", req.GetCaseId())
	}
	attempts, err := s.store.Attempts(ctx, grpcx.Tenant(ctx), l.Case.ID)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &alertingv1.GetAlertResponse{Case: casepb.Case(l.Case), Notifications: casepb.Notifications(attempts), History: casepb.History(l.Case)}, nil
}

// WatchAlerts streams the caller's case changes from the RECOVERY stream:
// from now on, or just after the cursor a client last received, so a
// client that reconnects misses nothing the stream still holds.
func (s *Service) WatchAlerts(req *alertingv1.WatchAlertsRequest, stream grpc.ServerStreamingServer[alertingv1.WatchAlertsResponse]) error {
	ctx := stream.Context()
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"recovery.*." + grpcx.Tenant(ctx)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	if cursor := req.GetResumeAfter(); cursor != "" {
		seq, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil {
			return grpcx.InvalidArgument([]*errdetails.BadRequest_FieldViolation{{Field: "resume_after", Description: "not a cursor this service gave"}}).Err()
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	}
	cons, err := s.js.OrderedConsumer(ctx, bus.RecoveryStream.Name, cfg)
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch: %v", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch: %v", err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop) // unblocks Next when the client leaves
	defer stop()
	// The headers tell the client the watch is in place: every change from
	// now on reaches it.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Errorf(codes.Unavailable, "watch: %v", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return status.Errorf(codes.Internal, "watch: %v", err)
		}
		change := new(eventsv1.RecoveryCaseChanged)
		if err := proto.Unmarshal(m.Data(), change); err != nil {
			continue // not a change this build can read: nothing to show
		}
		if change.GetCase().GetSeverity() < req.GetMinSeverity() {
			continue
		}
		if err := stream.Send(&alertingv1.WatchAlertsResponse{
			Cursor: strconv.FormatUint(meta.Sequence.Stream, 10), Type: change.GetType(),
			Case: change.GetCase(), OccurredAt: change.GetOccurredAt(),
		}); err != nil {
			return err
		}
	}
}
