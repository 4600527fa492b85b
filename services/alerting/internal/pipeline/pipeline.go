package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
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
// groups the matches into each customer's case, measures the outcome of a
// resolved case from the customer's next feedback, commits, and publishes
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
	msg  *bus.Message
	ev   Event
	outs []bus.Outgoing
	err  error
}

// maxRounds bounds how often a batch reads again customers whose case
// another writer changed meanwhile; then their events are retried later.
const maxRounds = 5

// Handle is the bus.Handler.
func (p *Pipeline) Handle(ctx context.Context, msgs []*bus.Message) []error {
	events := make([]event, len(msgs))
	pending := map[string]map[string][]*event{} // tenant → customer → events to decide
	feedbackOnly := map[string]map[string][]*event{}
	add := func(to map[string]map[string][]*event, e *event) {
		if to[e.ev.Tenant] == nil {
			to[e.ev.Tenant] = map[string][]*event{}
		}
		to[e.ev.Tenant][e.ev.CustomerID] = append(to[e.ev.Tenant][e.ev.CustomerID], e)
	}
	for i, m := range msgs {
		e := &events[i]
		e.msg = m
		if e.ev, e.err = Read(p.rules, m); e.err != nil {
			continue
		}
		switch {
		case e.ev.Match != nil:
			add(pending, e)
		case e.ev.Feedback:
			add(feedbackOnly, e)
		}
	}
	// Feedback no rule matched matters only to customers awaiting the
	// outcome of a resolved case.
	for tenant, customers := range feedbackOnly {
		ids := slices.Collect(maps.Keys(customers))
		awaiting, err := p.store.Awaiting(ctx, tenant, ids)
		for _, id := range ids {
			switch {
			case err != nil:
				for _, e := range customers[id] {
					e.err = err
				}
			case awaiting[id]:
				for _, e := range customers[id] {
					add(pending, e)
				}
			}
		}
	}
	written := map[string][]*written{}
	redisx.Optimistic(pending, maxRounds,
		func(tenant string, customers map[string][]*event) error {
			ws, err := p.apply(ctx, tenant, customers)
			written[tenant] = append(written[tenant], ws...)
			return err
		},
		func(e *event, err error) { e.err, e.outs = err, nil })
	outs := make([][]bus.Outgoing, len(events))
	errs := make([]error, len(events))
	for i := range events {
		outs[i], errs[i] = events[i].outs, events[i].err
	}
	errs = p.pub.Settle(ctx, outs, errs)
	p.announced(ctx, written, events, errs)
	return errs
}

// written is a committed case and the events whose changes it announces.
type written struct {
	loaded *store.Loaded
	events []*event
}

// announced records as announced the cases whose changes were all
// published. A failure leaves them due: the scheduler announces them.
func (p *Pipeline) announced(ctx context.Context, written map[string][]*written, events []event, errs []error) {
	failed := make(map[*event]bool)
	for i := range events {
		if errs[i] != nil {
			failed[&events[i]] = true
		}
	}
	for tenant, ws := range written {
		var ls []*store.Loaded
		for _, w := range ws {
			if !slices.ContainsFunc(w.events, func(e *event) bool { return failed[e] }) {
				ls = append(ls, w.loaded)
			}
		}
		if len(ls) > 0 {
			// Best effort: the changes are published, only the record of it
			// is missing, and the scheduler's repeat is dropped as a duplicate.
			_ = p.store.Announced(ctx, tenant, ls)
		}
	}
}

// apply reads one tenant's customers' latest cases, decides their events in
// turn, and commits; customers whose events are all committed (or change
// nothing) leave customers. It returns the cases committed.
func (p *Pipeline) apply(ctx context.Context, tenant string, customers map[string][]*event) ([]*written, error) {
	ids := make([]string, 0, len(customers))
	eventIDs := make([][]string, 0, len(customers))
	for id, evs := range customers {
		ids = append(ids, id)
		names := make([]string, len(evs))
		for j, e := range evs {
			names[j] = e.ev.EventID
		}
		eventIDs = append(eventIDs, names)
	}
	loaded, err := p.store.Load(ctx, tenant, ids, eventIDs)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) {
			return nil, bus.Permanent(err)
		}
		return nil, err
	}
	var writes []store.Write
	var applied [][]*event
	rest := map[string][]*event{}
	for i, id := range ids {
		w, done, left := p.decide(tenant, &loaded[i], customers[id])
		if w.New == nil {
			delete(customers, id)
			continue
		}
		writes, applied, rest[id] = append(writes, w), append(applied, done), left
	}
	if len(writes) == 0 {
		return nil, nil
	}
	committed, err := p.store.Commit(ctx, tenant, writes)
	if err != nil {
		return nil, err
	}
	var out []*written
	for i, w := range writes {
		id := w.New.CustomerID
		if !committed[i] {
			for _, e := range customers[id] {
				e.outs = nil
			}
			continue
		}
		out = append(out, &written{loaded: w.Loaded, events: applied[i]})
		if len(rest[id]) == 0 {
			delete(customers, id)
		} else {
			customers[id] = rest[id]
		}
	}
	return out, nil
}

// decide runs a customer's events in order against the latest case and
// sets each event's messages. It returns the write (New nil when there is
// none), the events it applies, and the events left for another round: a
// write changes one case, so an event that opens a new case after a change
// to the current one waits for that change to be committed.
func (p *Pipeline) decide(tenant string, l *store.Loaded, evs []*event) (w store.Write, done, left []*event) {
	current := l.Case
	var changed *cases.Case
	var ids []string
	for k, e := range evs {
		e.outs = nil
		if l.Seen[e.ev.EventID] {
			// Applied before: announce its changes again (the stream drops
			// the copies within its duplicate window).
			p.announce(tenant, l.Case, e)
			continue
		}
		next := current
		if c := current; c != nil && c.State == cases.Resolved && c.Outcome == nil && e.ev.Feedback && !e.ev.At.Before(c.ResolvedAt) {
			next = c.Clone()
			improved := cases.NPSImproved(c.OpeningNPSClass, e.ev.NPSClass)
			if err := next.MeasureOutcome(e.ev.EventID, e.ev.Experience, improved, e.ev.At); err != nil {
				next = current
			}
		}
		if e.ev.Match != nil {
			d := cases.Decide(next, *e.ev.Match, p.sla)
			switch {
			case d.Verdict == cases.NewCase && changed != nil:
				return p.write(tenant, l, changed, ids, done), done, evs[k:]
			case d.Case != nil:
				next = d.Case
			}
		}
		if next == current {
			continue // suppressed, duplicate, or nothing to measure
		}
		current, changed = next, next
		ids = append(ids, e.ev.EventID)
		done = append(done, e)
	}
	if changed == nil {
		return store.Write{}, nil, nil
	}
	return p.write(tenant, l, changed, ids, done), done, nil
}

// write is the write of case c, whose changes the events done caused; their
// messages are set here, once the case has its id.
func (p *Pipeline) write(tenant string, l *store.Loaded, c *cases.Case, ids []string, done []*event) store.Write {
	if c.ID == "" {
		c.ID = store.CaseID(c.CustomerID, c.FirstEventID)
	}
	for _, e := range done {
		p.announce(tenant, c, e)
	}
	return store.Write{Loaded: l, New: c, Events: ids, Now: time.Now()}
}

// announce sets e's messages: each change of c that e caused.
func (p *Pipeline) announce(tenant string, c *cases.Case, e *event) {
	if c == nil {
		return
	}
	for i, ch := range c.History {
		if ch.EventID == e.ev.EventID {
			e.outs = append(e.outs, announce.Message(e.msg.Ctx, tenant, c, i))
		}
	}
}

// Event is what alerting reads of one CustomerEvaluated or TierChanged.
type Event struct {
	// EventID is the customer event's id; a tier change's is the event
	// that caused it, followed by "/tier_changed".
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
		// The event that changed the tier also arrives evaluated, under its
		// own id: the change is a distinct occurrence, so that both can
		// match and neither is taken for a redelivery of the other.
		e.EventID, e.At = in.GetEventId()+"/tier_changed", in.GetChangedAt().AsTime()
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
