// Package api implements the IntakeService: it admits events, stores them on
// the FEEDBACK stream, and tells the caller exactly what happened to each.
package api

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/intake/internal/admit"
)

// Publisher stores messages on the stream (bus.Publisher).
type Publisher interface {
	PublishAll(ctx context.Context, outs []bus.Outgoing) ([]*jetstream.PubAck, []error)
}

// SeenStore remembers the event ids each tenant stored (store.Seen).
type SeenStore interface {
	Contains(ctx context.Context, tenant string, ids []string) ([]bool, error)
	Add(ctx context.Context, tenant string, ids []string) error
}

// Service is the IntakeService.
type Service struct {
	intakev1.UnimplementedIntakeServiceServer

	pub    Publisher
	seen   SeenStore
	valid  admit.Validator
	log    *slog.Logger
	events metric.Int64Counter

	// Ids are recorded after the answer is sent (see remember); slots bounds
	// how many recordings run at once, recording tracks them for Wait.
	slots     chan struct{}
	recording sync.WaitGroup
}

// New returns the service. The server must validate requests with
// valid.Violations (grpcx.WithValidation); batch items are validated here.
func New(pub Publisher, seen SeenStore, valid admit.Validator, log *slog.Logger) (*Service, error) {
	events, err := otel.Meter("github.com/feedloop/feedloop/services/intake").Int64Counter("feedloop.intake.events",
		metric.WithDescription("Events handled by intake, by kind and outcome (accepted, duplicate, invalid, unavailable)."))
	if err != nil {
		return nil, err
	}
	return &Service{pub: pub, seen: seen, valid: valid, log: log, events: events, slots: make(chan struct{}, 64)}, nil
}

// Wait returns when every stored id has been recorded. Call it after the
// server stopped taking calls.
func (s *Service) Wait() { s.recording.Wait() }

// SubmitFeedback stores one feedback event (already validated by the server).
func (s *Service) SubmitFeedback(ctx context.Context, req *intakev1.SubmitFeedbackRequest) (*intakev1.SubmitFeedbackResponse, error) {
	env := newEnvelope(grpcx.Tenant(ctx), bus.FeedbackReceived, s.valid.Now())
	p := env.feedback(req.Feedback)
	res := s.store(ctx, env.tenant, "feedback", []pending{p})[0]
	if res.err != nil {
		return nil, unavailable(res.err)
	}
	return &intakev1.SubmitFeedbackResponse{EventId: p.eventID, Duplicate: res.duplicate}, nil
}

// SubmitFeedbackBatch validates each item on its own and stores the valid
// ones together: one Redis round trip and one wait for all stream
// acknowledgements.
func (s *Service) SubmitFeedbackBatch(ctx context.Context, req *intakev1.SubmitFeedbackBatchRequest) (*intakev1.SubmitFeedbackBatchResponse, error) {
	env := newEnvelope(grpcx.Tenant(ctx), bus.FeedbackReceived, s.valid.Now())
	b := storeBatch(ctx, s, env, "feedback", req.Items, s.valid.Feedback, env.feedback)
	return &intakev1.SubmitFeedbackBatchResponse{Results: b.results, AcceptedCount: b.accepted,
		DuplicateCount: b.duplicate, RejectedCount: b.rejected, FailedCount: b.failed}, nil
}

// RecordActivityBatch is SubmitFeedbackBatch for purchases and support
// contacts.
func (s *Service) RecordActivityBatch(ctx context.Context, req *intakev1.RecordActivityBatchRequest) (*intakev1.RecordActivityBatchResponse, error) {
	env := newEnvelope(grpcx.Tenant(ctx), bus.ActivityReceived, s.valid.Now())
	b := storeBatch(ctx, s, env, "activity", req.Items, s.valid.Activity, env.activity)
	return &intakev1.RecordActivityBatchResponse{Results: b.results, AcceptedCount: b.accepted,
		DuplicateCount: b.duplicate, RejectedCount: b.rejected, FailedCount: b.failed}, nil
}

// batchResult is the outcome of a batch: each item's, and the counts.
type batchResult struct {
	results                               []*intakev1.SubmitFeedbackResult
	accepted, duplicate, rejected, failed int32
}

// storeBatch validates each item on its own with validate and stores the
// valid ones, wrapped by wrap, together.
func storeBatch[T any](ctx context.Context, s *Service, env envelope, kind string, items []T,
	validate func(T, time.Time) []*grpcx.FieldViolation, wrap func(T) pending) batchResult {
	b := batchResult{results: make([]*intakev1.SubmitFeedbackResult, len(items))}
	ps := make([]pending, 0, len(items))
	idx := make([]int, 0, len(items))
	for i, item := range items {
		b.results[i] = &intakev1.SubmitFeedbackResult{Index: int32(i)}
		if v := validate(item, env.now); len(v) > 0 {
			b.results[i].Error = grpcx.InvalidArgument(admit.Under("items["+strconv.Itoa(i)+"]", v)).Proto()
			b.rejected++
			continue
		}
		ps = append(ps, wrap(item))
		idx = append(idx, i)
	}
	s.count(ctx, kind, "invalid", int(b.rejected))
	for j, res := range s.store(ctx, env.tenant, kind, ps) {
		r := b.results[idx[j]]
		r.EventId = ps[j].eventID
		switch {
		case res.err != nil:
			r.Error = unavailableStatus(res.err).Proto()
			b.failed++
		case res.duplicate:
			r.Duplicate = true
			b.duplicate++
		default:
			b.accepted++
		}
	}
	return b
}

// RecordActivity stores one purchase or support contact.
func (s *Service) RecordActivity(ctx context.Context, req *intakev1.RecordActivityRequest) (*intakev1.RecordActivityResponse, error) {
	env := newEnvelope(grpcx.Tenant(ctx), bus.ActivityReceived, s.valid.Now())
	p := env.activity(req.Activity)
	res := s.store(ctx, env.tenant, "activity", []pending{p})[0]
	if res.err != nil {
		return nil, unavailable(res.err)
	}
	return &intakev1.RecordActivityResponse{EventId: p.eventID, Duplicate: res.duplicate}, nil
}

// pending is an admitted event on its way to the stream.
type pending struct {
	eventID  string
	clientID bool // the client chose the id, so it may be a repeat
	out      bus.Outgoing
}

type outcome struct {
	duplicate bool
	err       error // not confirmed stored; the client retries with the same id
}

// envelope is what all events of one request share: the caller's tenant,
// the subject, and the receive time.
type envelope struct {
	tenant, subject string
	now             time.Time
	received        *timestamppb.Timestamp
}

func newEnvelope(tenant, prefix string, now time.Time) envelope {
	return envelope{tenant: tenant, subject: bus.Subject(prefix, tenant), now: now, received: timestamppb.New(now)}
}

// feedback completes fb and wraps it for the stream.
func (e envelope) feedback(fb *intakev1.Feedback) pending {
	clientID := admit.Complete(&fb.EventId, &fb.OccurredAt, e.now)
	return e.wrap(fb.EventId, clientID, &eventsv1.FeedbackReceived{TenantId: e.tenant, Feedback: fb, ReceivedAt: e.received})
}

// activity completes a and wraps it for the stream.
func (e envelope) activity(a *intakev1.Activity) pending {
	clientID := admit.Complete(&a.EventId, &a.OccurredAt, e.now)
	return e.wrap(a.EventId, clientID, &eventsv1.ActivityReceived{TenantId: e.tenant, Activity: a, ReceivedAt: e.received})
}

func (e envelope) wrap(eventID string, clientID bool, msg proto.Message) pending {
	return pending{eventID: eventID, clientID: clientID, out: bus.Outgoing{Subject: e.subject, ID: e.tenant + "/" + eventID, Msg: msg}}
}

// store publishes the events that are not known repeats and records the ids
// of those the stream acknowledged.
//
// Repeats are caught three ways: the Redis id memory (days), the stream's
// Nats-Msg-Id window (minutes; it also covers concurrent repeats, which both
// pass the Redis check), and, behind intake, every consumer's event-id guard.
// So when Redis is down intake keeps accepting events (the stream is the log
// of record) and only the duplicate flag for old repeats is lost meanwhile.
func (s *Service) store(ctx context.Context, tenant, kind string, ps []pending) []outcome {
	res := make([]outcome, len(ps))
	var ask []string
	var askIdx []int
	for i, p := range ps {
		if p.clientID {
			ask, askIdx = append(ask, p.eventID), append(askIdx, i)
		}
	}
	if len(ask) > 0 {
		seen, err := s.seen.Contains(ctx, tenant, ask)
		if err != nil {
			s.log.WarnContext(ctx, "event id check failed; relying on the stream's duplicate window", "tenant", tenant, "err", err)
		}
		for j, i := range askIdx {
			res[i].duplicate = err == nil && seen[j]
		}
	}

	outs := make([]bus.Outgoing, 0, len(ps))
	pubIdx := make([]int, 0, len(ps))
	for i, p := range ps {
		if !res[i].duplicate {
			outs, pubIdx = append(outs, p.out), append(pubIdx, i)
		}
	}
	acks, errs := s.pub.PublishAll(ctx, outs)
	var stored []string
	var failed int
	for j, i := range pubIdx {
		if errs[j] != nil {
			res[i].err = errs[j]
			if failed++; failed == 1 {
				s.log.WarnContext(ctx, "publish failed", "tenant", tenant, "event_id", ps[i].eventID, "events", len(outs), "err", errs[j])
			}
			continue
		}
		res[i].duplicate = acks[j].Duplicate
		if ps[i].clientID {
			stored = append(stored, ps[i].eventID)
		}
	}
	if len(stored) > 0 {
		s.remember(ctx, tenant, stored)
	}
	var counts [3]int
	for _, r := range res {
		switch {
		case r.err != nil:
			counts[2]++
		case r.duplicate:
			counts[1]++
		default:
			counts[0]++
		}
	}
	s.count(ctx, kind, "accepted", counts[0])
	s.count(ctx, kind, "duplicate", counts[1])
	s.count(ctx, kind, "unavailable", counts[2])
	return res
}

// remember records stored ids without holding up the answer: a repeat that
// arrives before the record lands is still caught by the stream's duplicate
// window. When all slots are busy it records inline, so a burst slows callers
// down rather than piling up goroutines.
func (s *Service) remember(ctx context.Context, tenant string, ids []string) {
	record := func() {
		if err := s.seen.Add(ctx, tenant, ids); err != nil {
			s.log.WarnContext(ctx, "event ids not recorded; repeats after the stream's duplicate window will be stored again and de-duplicated downstream", "tenant", tenant, "err", err)
		}
	}
	select {
	case s.slots <- struct{}{}:
		s.recording.Go(func() {
			defer func() { <-s.slots }()
			record()
		})
	default:
		record()
	}
}

func (s *Service) count(ctx context.Context, kind, outcome string, n int) {
	if n > 0 {
		s.events.Add(ctx, int64(n), metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", outcome)))
	}
}

func unavailableStatus(err error) *status.Status {
	return status.New(codes.Unavailable, "event not confirmed stored; retry with the same event_id: "+err.Error())
}

func unavailable(err error) error { return unavailableStatus(err).Err() }
