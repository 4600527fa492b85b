package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Consumer is the durable consumer the pipeline reads: every evaluated
// event and every tier change.
var Consumer = bus.ConsumerSpec{
	Stream:         bus.CustomersStream,
	Durable:        "alerting",
	FilterSubjects: []string{bus.CustomerEvaluated + ".>", bus.TierChanged + ".>"},
}

// Pipeline turns evaluated events into recovery cases: it runs the rules,
// groups the matches into each customer's case, commits, and publishes
// every change of a case to recovery.<change>.<tenant>.
type Pipeline struct {
	rules *rules.Rules
	store *store.Store
	pub   *bus.Publisher
	sla   cases.SLA
}

// New returns a pipeline.
func New(rs *rules.Rules, st *store.Store, pub *bus.Publisher, sla cases.SLA) *Pipeline {
	return &Pipeline{rules: rs, store: st, pub: pub, sla: sla}
}

// event is one message on its way through a batch.
type event struct {
	msg      *bus.Message
	tenant   string
	match    *cases.Match // nil when no rule matched
	outs     []bus.Outgoing
	err      error
	customer string
}

// maxRounds bounds how often a batch reads again customers whose case
// another writer changed meanwhile; then their events are retried later.
const maxRounds = 5

// Handle is the bus.Handler.
func (p *Pipeline) Handle(ctx context.Context, msgs []*bus.Message) []error {
	events := make([]event, len(msgs))
	pending := map[string]map[string][]*event{} // tenant → customer → events with a match
	for i, m := range msgs {
		e := &events[i]
		e.msg = m
		var ev Event
		if ev, e.err = Read(p.rules, m); e.err != nil || ev.Match == nil {
			continue
		}
		e.tenant, e.customer, e.match = ev.Tenant, ev.CustomerID, ev.Match
		if pending[e.tenant] == nil {
			pending[e.tenant] = map[string][]*event{}
		}
		pending[e.tenant][e.customer] = append(pending[e.tenant][e.customer], e)
	}
	redisx.Optimistic(pending, maxRounds,
		func(tenant string, customers map[string][]*event) error { return p.apply(ctx, tenant, customers) },
		func(e *event, err error) { e.err, e.outs = err, nil })
	outs := make([][]bus.Outgoing, len(events))
	errs := make([]error, len(events))
	for i := range events {
		outs[i], errs[i] = events[i].outs, events[i].err
	}
	return p.pub.Settle(ctx, outs, errs)
}

// apply reads one tenant's customers' latest cases, decides each match in
// turn, and commits; customers committed (or with nothing to write) leave
// customers.
func (p *Pipeline) apply(ctx context.Context, tenant string, customers map[string][]*event) error {
	ids := make([]string, 0, len(customers))
	eventIDs := make([][]string, 0, len(customers))
	for id, evs := range customers {
		ids = append(ids, id)
		names := make([]string, len(evs))
		for j, e := range evs {
			names[j] = e.match.EventID
		}
		eventIDs = append(eventIDs, names)
	}
	loaded, err := p.store.Load(ctx, tenant, ids, eventIDs)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) {
			return bus.Permanent(err)
		}
		return err
	}
	var writes []store.Write
	for i, id := range ids {
		if w, ok := p.decide(tenant, &loaded[i], customers[id]); ok {
			writes = append(writes, w)
		} else {
			delete(customers, id)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	done, err := p.store.Commit(ctx, tenant, writes)
	if err != nil {
		return err
	}
	for i, w := range writes {
		if done[i] {
			delete(customers, w.New.CustomerID)
			continue
		}
		for _, e := range customers[w.New.CustomerID] {
			e.outs = nil
		}
	}
	return nil
}

// decide runs Decide for a customer's events in order and sets each
// event's messages; it returns the write, false when there is none.
func (p *Pipeline) decide(tenant string, l *store.Loaded, evs []*event) (store.Write, bool) {
	current := l.Case
	var changed *cases.Case
	var applied []string
	var opened []*event // events whose change is on the new case, once it has its id
	for _, e := range evs {
		e.outs = nil
		if l.Seen[e.match.EventID] {
			// Applied before: announce its change again (the stream drops
			// the copy within its duplicate window).
			if c := l.Case; c != nil {
				for i, ch := range c.History {
					if ch.EventID == e.match.EventID {
						e.outs = append(e.outs, changeMessage(tenant, c, i, e.msg.Ctx))
					}
				}
			}
			continue
		}
		d := cases.Decide(current, *e.match, p.sla)
		if d.Case == nil { // suppressed or duplicate: nothing changes
			continue
		}
		if changed == nil || d.Verdict == cases.NewCase {
			opened = opened[:0]
		}
		current, changed = d.Case, d.Case
		applied = append(applied, e.match.EventID)
		opened = append(opened, e)
	}
	if changed == nil {
		return store.Write{}, false
	}
	// Commit names a new case; the messages are built once it has, below.
	w := store.Write{Loaded: l, New: changed, Events: applied, Now: changed.UpdatedAt}
	p.announce(tenant, changed, opened)
	return w, true
}

// announce sets the messages of the events whose changes are on c: each
// history entry caused by one of them.
func (p *Pipeline) announce(tenant string, c *cases.Case, evs []*event) {
	if c.ID == "" {
		c.ID = store.CaseID(c.CustomerID, c.FirstEventID)
	}
	for _, e := range evs {
		for i, ch := range c.History {
			if ch.EventID == e.match.EventID {
				e.outs = append(e.outs, changeMessage(tenant, c, i, e.msg.Ctx))
			}
		}
	}
}

// changeMessage announces the i-th change of c. Its id is the case and the
// change's place in the history, so a repeat is dropped by the stream.
func changeMessage(tenant string, c *cases.Case, i int, ctx context.Context) bus.Outgoing {
	ch := c.History[i]
	id := tenant + "/" + c.ID + "/" + strconv.Itoa(i)
	return bus.Outgoing{
		Subject: "recovery." + ch.Type.String() + "." + tenant,
		ID:      id,
		Ctx:     ctx,
		Msg: &eventsv1.RecoveryCaseChanged{
			TenantId: tenant, ChangeId: id, Type: casepb.ChangeType(ch.Type),
			Case: casepb.Case(c), Actor: actor(ch), EventId: ch.EventID, OccurredAt: timestamppb.New(ch.At),
		},
	}
}

func actor(ch cases.Change) string {
	if ch.Actor == "" {
		return "system"
	}
	return ch.Actor
}

// Event is what alerting reads of one CustomerEvaluated or TierChanged.
type Event struct {
	Tenant, CustomerID, EventID string
	At                          time.Time
	// Feedback is true for feedback, which can measure a recovery outcome
	// with its experience score and NPS class.
	Feedback   bool
	Experience float64
	NPSClass   string
	// Matches are every rule that matched, in rule order; Match is the
	// most severe of them (the first of equals) as a case sees it, nil for
	// none.
	Matches []rules.Match
	Match   *cases.Match
}

// Read decodes a CustomerEvaluated or TierChanged and runs the rules on it.
// An event that cannot be read is a Permanent error.
func Read(rs *rules.Rules, m *bus.Message) (Event, error) {
	var v rules.Vars
	var e Event
	var prefix string
	switch {
	case strings.HasPrefix(m.Subject, bus.CustomerEvaluated+"."):
		in := new(eventsv1.CustomerEvaluated)
		if err := bus.Decode(m, in); err != nil {
			return Event{}, err
		}
		e.Tenant, prefix = in.GetTenantId(), bus.CustomerEvaluated
		v = VarsFromEvaluated(in)
		e.At = in.GetProfile().GetUpdatedAt().AsTime()
		switch c := in.GetCause().(type) {
		case *eventsv1.CustomerEvaluated_Feedback:
			e.EventID = c.Feedback.GetReceived().GetFeedback().GetEventId()
			e.Feedback, e.Experience, e.NPSClass = true, v.Experience, v.NPSClass
		case *eventsv1.CustomerEvaluated_Activity:
			e.EventID = c.Activity.GetActivity().GetEventId()
		}
	case strings.HasPrefix(m.Subject, bus.TierChanged+"."):
		in := new(eventsv1.TierChanged)
		if err := bus.Decode(m, in); err != nil {
			return Event{}, err
		}
		e.Tenant, prefix = in.GetTenantId(), bus.TierChanged
		v = VarsFromTierChanged(in, nil)
		e.EventID, e.At = in.GetEventId(), in.GetChangedAt().AsTime()
	default:
		return Event{}, bus.Permanent(fmt.Errorf("unexpected subject %s", m.Subject))
	}
	e.CustomerID = v.CustomerID
	if e.Tenant == "" || e.CustomerID == "" || e.EventID == "" {
		return Event{}, bus.Permanent(fmt.Errorf("invalid event on %s: missing tenant, customer or event id", m.Subject))
	}
	if err := bus.CheckTenant("event", prefix, m.Subject, e.Tenant); err != nil {
		return Event{}, err
	}
	matches := rs.Evaluate(&v)
	if len(matches) == 0 {
		return e, nil
	}
	e.Matches = matches
	best := matches[0]
	for _, mt := range matches[1:] {
		if mt.Severity > best.Severity {
			best = mt
		}
	}
	e.Match = &cases.Match{
		CustomerID: v.CustomerID, Rule: best.Rule, Severity: best.Severity, Summary: best.Summary, Labels: best.Labels,
		EventID: e.EventID, At: e.At, Tier: v.Tier, ValueLevel: v.ValueLevel,
		Channel: v.Channel, Touchpoint: v.Touchpoint, Experience: e.Experience, NPSClass: e.NPSClass,
	}
	return e, nil
}
