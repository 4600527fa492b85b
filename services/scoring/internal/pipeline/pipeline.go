// Package pipeline is the scoring service's consumer: it scores each
// feedback.received event, applies it to the store, and publishes
// FeedbackScored, a micro-batch at a time.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// Consumer is the durable consumer the pipeline reads from.
var Consumer = bus.ConsumerSpec{
	Stream:         bus.FeedbackStream,
	Durable:        "scoring",
	FilterSubjects: []string{bus.FeedbackReceived + ".>"},
}

// Pipeline scores feedback.
type Pipeline struct {
	scorer *score.Scorer
	store  *store.Store
	pub    *bus.Publisher
}

// New returns a pipeline.
func New(scorer *score.Scorer, st *store.Store, pub *bus.Publisher) *Pipeline {
	return &Pipeline{scorer: scorer, store: st, pub: pub}
}

// event is one message on its way through a batch.
type event struct {
	msg      *bus.Message
	received *eventsv1.FeedbackReceived
	scores   *scoringv1.Scores
	out      *bus.Outgoing // FeedbackScored, once applied
	err      error
}

// Handle is the bus.Handler: decode and score every message, apply all of
// them in one Redis round trip, publish all results, and report each
// message's outcome. A message that cannot be scored fails alone.
func (p *Pipeline) Handle(ctx context.Context, msgs []*bus.Message) []error {
	events := make([]event, len(msgs))
	var ups []store.Update
	var updated []*event // the event of each update
	for i, m := range msgs {
		e := &events[i]
		e.msg, e.received = m, new(eventsv1.FeedbackReceived)
		if e.err = bus.Decode(m, e.received); e.err == nil {
			e.err = check(m.Subject, e.received)
		}
		if e.err != nil {
			continue
		}
		var u store.Update
		if u, e.scores, e.err = p.update(e.received); e.err != nil {
			continue
		}
		ups = append(ups, u)
		updated = append(updated, e)
	}

	results, errs := p.store.Apply(ctx, ups)
	outs := make([][]bus.Outgoing, len(events))
	for j, e := range updated {
		if e.err = errs[j]; e.err != nil {
			if errors.Is(e.err, store.ErrBadState) {
				e.err = bus.Permanent(e.err)
			}
			continue
		}
		customer := results[j].Customer.Proto()
		tenant, id := e.received.GetTenantId(), e.received.GetFeedback().GetEventId()
		e.out = &bus.Outgoing{
			Subject: bus.Subject(bus.FeedbackScored, tenant),
			ID:      tenant + "/" + id,
			Msg:     &eventsv1.FeedbackScored{Received: e.received, Scores: e.scores, Customer: customer},
			Ctx:     e.msg.Ctx,
		}
	}
	out := make([]error, len(events))
	for i := range events {
		if o := events[i].out; o != nil {
			outs[i] = []bus.Outgoing{*o}
		}
		out[i] = events[i].err
	}
	return p.pub.Settle(ctx, outs, out)
}

// update scores one event and builds its store update.
func (p *Pipeline) update(r *eventsv1.FeedbackReceived) (store.Update, *scoringv1.Scores, error) {
	f := r.GetFeedback()
	in := Input(f)
	res := p.scorer.Score(in)
	scores := Scores(res)
	b, err := proto.Marshal(scores)
	if err != nil {
		return store.Update{}, nil, bus.Permanent(fmt.Errorf("encode scores: %w", err))
	}
	return store.Update{
		Tenant:     r.GetTenantId(),
		Customer:   f.GetCustomerId(),
		EventID:    f.GetEventId(),
		At:         f.GetOccurredAt().AsTime(),
		Group:      store.Group{Channel: int32(f.GetChannel()), Touchpoint: f.GetTouchpoint()},
		Experience: res.Experience,
		NPSClass:   res.NPSClass,
		Complaint:  in.Complaint != score.NoComplaint,
		Scores:     b,
		Counts:     rollup.Event(in, res),
	}, scores, nil
}

// check rejects what intake never publishes: such a message can never be
// scored, so the error is Permanent (dead letter).
func check(subject string, r *eventsv1.FeedbackReceived) error {
	f := r.GetFeedback()
	var missing []string
	for _, field := range []struct {
		name string
		ok   bool
	}{
		{"tenant_id", r.GetTenantId() != ""},
		{"feedback", f != nil},
		{"feedback.event_id", f.GetEventId() != ""},
		{"feedback.customer_id", f.GetCustomerId() != ""},
		{"feedback.occurred_at", f.GetOccurredAt().IsValid()},
	} {
		if !field.ok {
			missing = append(missing, field.name)
		}
	}
	if len(missing) > 0 {
		return bus.Permanent(fmt.Errorf("invalid FeedbackReceived on %s: missing %s", subject, strings.Join(missing, ", ")))
	}
	return bus.CheckTenant("FeedbackReceived", bus.FeedbackReceived, subject, r.GetTenantId())
}
