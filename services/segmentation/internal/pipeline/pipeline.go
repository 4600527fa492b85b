// Package pipeline is segmentation's consumer and sweep. The consumer
// applies scored feedback and activity to each customer's profile,
// re-evaluates the tier, and publishes CustomerEvaluated (and TierChanged
// when the tier changed), a micro-batch at a time. The sweep re-evaluates
// customers whom time alone moves (see sweep.go).
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
)

// The durable consumers the pipeline reads from.
var (
	ScoredConsumer = bus.ConsumerSpec{
		Stream:         bus.ScoredStream,
		Durable:        "segmentation",
		FilterSubjects: []string{bus.FeedbackScored + ".>"},
	}
	ActivityConsumer = bus.ConsumerSpec{
		Stream:         bus.FeedbackStream,
		Durable:        "segmentation-activity",
		FilterSubjects: []string{bus.ActivityReceived + ".>"},
	}
)

// Pipeline evaluates customers as their events arrive.
type Pipeline struct {
	eval  *segment.Evaluator
	store *store.Store
	pub   *bus.Publisher
	now   func() time.Time
	log   *slog.Logger
}

// New returns a pipeline; now is the clock evaluations use.
func New(eval *segment.Evaluator, st *store.Store, pub *bus.Publisher, now func() time.Time, log *slog.Logger) *Pipeline {
	return &Pipeline{eval: eval, store: st, pub: pub, now: now, log: log}
}

// event is one message on its way through a batch.
type event struct {
	msg      *bus.Message
	tenant   string
	customer string
	domain   profile.Event
	// received is when intake received the event (the server's clock, as
	// the erasure time is).
	received time.Time
	// cause is the input as CustomerEvaluated carries it.
	cause func(*eventsv1.CustomerEvaluated)
	outs  []bus.Outgoing
	err   error
}

// maxRounds bounds how often a batch reloads customers that another writer
// changed meanwhile; after that their events are retried later.
const maxRounds = 5

// Handle is the bus.Handler for both consumers.
func (p *Pipeline) Handle(ctx context.Context, msgs []*bus.Message) []error {
	events := make([]event, len(msgs))
	pending := map[string]map[string][]*event{} // tenant → customer → events in order
	for i, m := range msgs {
		e := &events[i]
		e.msg = m
		if e.err = decode(m, e); e.err != nil {
			continue
		}
		if pending[e.tenant] == nil {
			pending[e.tenant] = map[string][]*event{}
		}
		pending[e.tenant][e.customer] = append(pending[e.tenant][e.customer], e)
	}
	var clears []clear
	redisx.Optimistic(pending, maxRounds,
		func(tenant string, customers map[string][]*event) error {
			return p.apply(ctx, tenant, customers, &clears)
		},
		func(e *event, err error) { e.err, e.outs = err, nil }) // nothing of an uncommitted event is published
	outs := make([][]bus.Outgoing, len(events))
	errs := make([]error, len(events))
	for i := range events {
		outs[i], errs[i] = events[i].outs, events[i].err
	}
	errs = p.pub.Settle(ctx, outs, errs)
	for i := range events {
		events[i].err = errs[i]
	}
	p.clear(ctx, clears)
	return errs
}

// clear is a customer whose pending tier changes an event of the batch
// (carrier) publishes, and the write that clears them once published.
type clear struct {
	tenant  string
	carrier *event
	write   store.Write
}

// clear clears the pending changes that were published. A clear that
// fails, or loses to another writer, leaves them for the next writer to
// publish again (under the same message ids).
func (p *Pipeline) clear(ctx context.Context, clears []clear) {
	byTenant := map[string][]store.Write{}
	for _, c := range clears {
		if c.carrier.err == nil {
			byTenant[c.tenant] = append(byTenant[c.tenant], c.write)
		}
	}
	for tenant, ws := range byTenant {
		if _, err := p.store.Commit(ctx, tenant, ws); err != nil {
			p.log.Warn("clear published tier changes", "tenant", tenant, "err", err)
		}
	}
}

// apply loads one tenant's customers, applies their events, and commits;
// customers committed are removed from customers, those another writer
// changed meanwhile stay for the next round. Customers left with pending
// tier changes are added to clears.
func (p *Pipeline) apply(ctx context.Context, tenant string, customers map[string][]*event, clears *[]clear) error {
	ids := make([]string, 0, len(customers))
	eventIDs := make([][]string, 0, len(customers))
	for id, evs := range customers {
		ids = append(ids, id)
		names := make([]string, len(evs))
		for j, e := range evs {
			names[j] = e.domain.ID
		}
		eventIDs = append(eventIDs, names)
	}
	loaded, err := p.store.Load(ctx, tenant, ids, eventIDs)
	if err != nil {
		return err
	}
	now := p.now()
	writes := make([]store.Write, 0, len(ids))
	var after []clear // per write: the clear to make when it commits
	for i, id := range ids {
		l, evs := &loaded[i], customers[id]
		if l.Corrupt != nil { // this customer's events fail alone
			for _, e := range evs {
				e.err = bus.Permanent(l.Corrupt)
			}
			delete(customers, id)
			continue
		}
		r, applied := p.evaluate(tenant, id, l, evs, now)
		w := store.Write{Customer: id, Loaded: l, New: &r, Events: applied, Now: now}
		c := clear{tenant: tenant, carrier: evs[len(evs)-1],
			write: store.Write{Customer: id, Loaded: l, New: new(p.eval.Published(tenant, r, now)), Now: now}}
		if len(applied) == 0 { // duplicates or erased: nothing to write
			if len(r.Pending) > 0 {
				*clears = append(*clears, c)
			}
			delete(customers, id)
			continue
		}
		c.write.Loaded = store.Committed(w)
		writes = append(writes, w)
		after = append(after, c)
	}
	if len(writes) == 0 {
		return nil
	}
	done, err := p.store.Commit(ctx, tenant, writes)
	if err != nil {
		return err
	}
	for i, w := range writes {
		if !done[i] {
			for _, e := range customers[w.Customer] {
				e.outs = nil
			}
			continue
		}
		if len(w.New.Pending) > 0 {
			*clears = append(*clears, after[i])
		}
		delete(customers, w.Customer)
	}
	return nil
}

// evaluate applies a customer's new events in order, each followed by an
// evaluation, and sets each event's messages; the customer's pending tier
// changes go with the last event. It returns the record after the events
// and the ids of those applied.
func (p *Pipeline) evaluate(tenant, id string, l *store.Loaded, evs []*event, now time.Time) (segment.Record, []string) {
	r := l.Record
	var applied []string
	for _, e := range evs {
		e.outs = nil
		switch {
		case l.Seen[e.domain.ID] || slices.Contains(applied, e.domain.ID):
			// Applied before: publish the profile again (the stream drops
			// a copy within its duplicate window).
			prev := r.Tier
			for _, c := range r.Pending {
				if c.EventID == e.domain.ID {
					prev = c.Old
				}
			}
			e.outs = append(e.outs, p.evaluated(tenant, id, e, &r, p.eval.At(tenant, &r), prev, r.Risk))
		case !l.ErasedAt.IsZero() && !e.received.After(l.ErasedAt):
			// Received before the customer was erased: not theirs to keep.
		default:
			r.State.Apply(e.domain)
			prev, prevRisk := r.Tier, r.Risk
			var ev segment.Evaluation
			r, ev, _ = p.eval.Reevaluate(tenant, r, now, e.domain.ID)
			e.outs = append(e.outs, p.evaluated(tenant, id, e, &r, ev, prev, prevRisk))
			applied = append(applied, e.domain.ID)
		}
	}
	last := evs[len(evs)-1]
	for _, c := range r.Pending {
		last.outs = append(last.outs, tierChanged(last.msg.Ctx, tenant, id, p.eval, c))
	}
	return r, applied
}

func (p *Pipeline) evaluated(tenant, id string, e *event, r *segment.Record, ev segment.Evaluation, prev string, prevRisk float64) bus.Outgoing {
	msg := &eventsv1.CustomerEvaluated{TenantId: tenant, Profile: segment.Proto(id, r, ev), PreviousTier: prev, PreviousChurnRisk: prevRisk}
	e.cause(msg)
	return bus.Outgoing{
		Subject: bus.Subject(bus.CustomerEvaluated, tenant),
		ID:      tenant + "/" + e.domain.ID,
		Msg:     msg,
		Ctx:     e.msg.Ctx,
	}
}

// tierChanged announces a change, under the trace context of the message
// that caused it (for the sweep, its tick).
func tierChanged(ctx context.Context, tenant, id string, eval *segment.Evaluator, c segment.Change) bus.Outgoing {
	return bus.Outgoing{
		Ctx:     ctx,
		Subject: bus.Subject(bus.TierChanged, tenant),
		ID:      tenant + "/" + c.EventID + "/" + id + "/tier_changed",
		Msg: &eventsv1.TierChanged{
			TenantId:   tenant,
			CustomerId: id,
			EventId:    c.EventID,
			OldTier:    c.Old,
			NewTier:    c.New,
			Reasons:    segment.TierReasons(eval.Rules().Tier(c.New)),
			ChangedAt:  timestamppb.New(c.At),
		},
	}
}

// decode reads a FeedbackScored or ActivityReceived into e. What cannot be
// applied is a Permanent error (dead letter).
func decode(m *bus.Message, e *event) error {
	switch {
	case strings.HasPrefix(m.Subject, bus.FeedbackScored+"."):
		in := new(eventsv1.FeedbackScored)
		if err := bus.Decode(m, in); err != nil {
			return err
		}
		f := in.GetReceived().GetFeedback()
		e.tenant, e.customer = in.GetReceived().GetTenantId(), f.GetCustomerId()
		e.received = receivedAt(in.GetReceived().GetReceivedAt(), f.GetOccurredAt())
		e.domain = profile.Event{
			ID: f.GetEventId(), At: f.GetOccurredAt().AsTime(), Feedback: true,
			NPS:          segment.NPSFromProto(in.GetScores().GetNpsClass()),
			Complaint:    f.GetComplaint() != nil,
			Satisfaction: in.GetCustomer().GetDecayedSatisfaction(),
			Trend:        in.GetCustomer().GetSatisfactionTrend(),
			Rated:        in.GetCustomer().GetFeedbackCount(),
		}
		e.cause = func(c *eventsv1.CustomerEvaluated) { c.Cause = &eventsv1.CustomerEvaluated_Feedback{Feedback: in} }
		return check(m.Subject, bus.FeedbackScored, e, f.GetOccurredAt().IsValid())
	case strings.HasPrefix(m.Subject, bus.ActivityReceived+"."):
		in := new(eventsv1.ActivityReceived)
		if err := bus.Decode(m, in); err != nil {
			return err
		}
		a := in.GetActivity()
		e.tenant, e.customer = in.GetTenantId(), a.GetCustomerId()
		e.received = receivedAt(in.GetReceivedAt(), a.GetOccurredAt())
		e.domain = profile.Event{ID: a.GetEventId(), At: a.GetOccurredAt().AsTime()}
		if pu := a.GetPurchase(); pu != nil {
			e.domain.Purchase = &profile.Money{Amount: pu.GetAmount().GetAmountMinor(), Currency: pu.GetAmount().GetCurrency()}
		}
		e.cause = func(c *eventsv1.CustomerEvaluated) { c.Cause = &eventsv1.CustomerEvaluated_Activity{Activity: in} }
		return check(m.Subject, bus.ActivityReceived, e, a.GetOccurredAt().IsValid())
	}
	return bus.Permanent(fmt.Errorf("unexpected subject %s", m.Subject))
}

// receivedAt is when intake received an event; its occurrence time for an
// event without one.
func receivedAt(received, occurred *timestamppb.Timestamp) time.Time {
	if received.IsValid() {
		return received.AsTime()
	}
	return occurred.AsTime()
}

// check rejects what intake and scoring never publish.
func check(subject, prefix string, e *event, hasTime bool) error {
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{{"tenant_id", e.tenant != ""}, {"customer_id", e.customer != ""}, {"event_id", e.domain.ID != ""}, {"occurred_at", hasTime}} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return bus.Permanent(fmt.Errorf("invalid event on %s: missing %s", subject, strings.Join(missing, ", ")))
	}
	return bus.CheckTenant("event", prefix, subject, e.tenant)
}
