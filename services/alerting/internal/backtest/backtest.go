// Package backtest tells a team what a candidate rule file would have done
// before they switch it on: it replays a tenant's recent evaluated events
// and tier changes (replay.go) through the rules and the live service's
// case logic, in memory, and counts per rule the events it matched and the
// cases it would have opened. Nothing is written and nothing is announced.
package backtest

import (
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/pipeline"
)

// guardTTL is how long the live store remembers the event ids applied to a
// customer (FEEDLOOP_ALERTING_DEDUP_TTL's default), so that an event
// delivered again is not applied twice. The simulation measures it on its
// clock, the latest event time replayed.
const guardTTL = 48 * time.Hour

// RuleReport is what one rule would have done.
type RuleReport struct {
	Rule string
	// Matches counts the events the rule matched.
	Matches int64
	// Cases counts the cases the rule would have opened: it was the most
	// severe match of an event that opened a case.
	Cases int64
	// DistinctCustomers counts the customers it would have opened cases for.
	DistinctCustomers int64
}

// Report is the outcome of a backtest.
type Report struct {
	// Events counts the events replayed (a tier change an event made
	// counts apart from that event's evaluation).
	Events int64
	// Skipped counts the messages that could not be read as events and
	// were left out (the live service dead-letters them).
	Skipped int64
	// Rules lists every rule of the file, in file order.
	Rules []RuleReport
	// TotalCases counts the cases all rules together would have opened.
	TotalCases int64
}

// Simulator decides, in memory and in the order it is given them, the
// events of one tenant as the live pipeline does: per customer it keeps the
// latest case and runs cases.Decide on each event's most severe match, so
// grouping (one open case per customer, later matches attach), inhibition,
// severity raises and the cool-down after resolution all apply; an event
// already applied to the customer is skipped, as the store's guard does.
//
// Nobody acts on a simulated case, and a case that is never resolved
// would absorb every later match of its customer: over a lookback of days
// the simulation would open about one case per customer, far fewer than
// a team that resolves its cases would see. So the simulation assumes a
// team that meets its SLA at its slowest: every case is acknowledged in
// time (it never escalates) and resolved exactly at its resolve-by deadline
// (as tightened by any severity raise). A match after that deadline finds
// the case resolved: within the cool-down it is suppressed unless more
// severe, after it a new case opens. The counts are estimates under that
// assumption: a team that resolves sooner would see somewhat more cases
// (its cool-downs end sooner), one that misses its deadlines fewer.
//
// The simulation also starts with no cases: a customer whose case was
// open before the replayed window opens a new one on its first match.
//
// A Simulator is not safe for concurrent use.
type Simulator struct {
	sla       cases.SLA
	rules     []string
	tallies   map[string]*tally
	customers map[string]customer
	// applied maps each event id applied to a customer to the case it
	// joined and when: an id is a duplicate while it is on the customer's
	// current case, or for guardTTL.
	applied map[eventKey]appliedEvent
	// now is the latest event time, when the live service would read the
	// next event; swept is when applied was last rid of what the guard no
	// longer covers.
	now, swept time.Time
	events     int64
	totalCases int64
}

type tally struct {
	matches, cases int64
	customers      map[string]struct{}
}

// customer is one customer's simulated state: the latest case, kept with
// only what decides the verdicts (no history, labels or summary, so a case
// that attaches many events stays small and cheap to copy), and the count
// of cases opened.
type customer struct {
	current *cases.Case
	caseNo  int
}

type eventKey struct{ customer, event string }

type appliedEvent struct {
	caseNo int
	at     time.Time
}

// New returns a simulator for a rule file whose rules are named rules, in
// file order, deciding cases with sla.
func New(rules []string, sla cases.SLA) *Simulator {
	s := &Simulator{
		sla: sla, rules: rules, tallies: make(map[string]*tally, len(rules)),
		customers: map[string]customer{}, applied: map[eventKey]appliedEvent{},
	}
	for _, r := range rules {
		s.tallies[r] = &tally{customers: map[string]struct{}{}}
	}
	return s
}

// simulatedResolution closes a case at its deadline.
var simulatedResolution = cases.Resolution{
	Actions:   []cases.Action{{Type: cases.OtherAction, Note: "simulated"}},
	RootCause: "resolved at its deadline by the backtest",
}

// Add replays one event.
func (s *Simulator) Add(ev pipeline.Event) {
	s.events++
	if ev.At.After(s.now) {
		s.now = ev.At
		s.sweep()
	}
	if ev.Match == nil {
		return
	}
	m := *ev.Match
	c := s.customers[m.CustomerID]
	key := eventKey{m.CustomerID, m.EventID}
	if a, ok := s.applied[key]; ok && (a.caseNo == c.caseNo || s.now.Sub(a.at) < guardTTL) {
		return // applied before: the live pipeline skips it
	}
	for _, mt := range ev.Matches {
		if t := s.tallies[mt.Rule]; t != nil {
			t.matches++
		}
	}
	if cur := c.current; cur != nil && cur.State.Active() && m.At.After(cur.ResolveBy) {
		// Cannot fail: the case is active and the resolution valid.
		_ = cur.Resolve("backtest", simulatedResolution, cur.ResolveBy, s.sla)
	}
	d := cases.Decide(c.current, m, s.sla)
	if d.Case == nil { // suppressed, or a duplicate on the case
		return
	}
	d.Case.History, d.Case.Labels, d.Case.Summary, d.Case.MatchedRules = nil, nil, "", nil
	c.current = d.Case
	if d.Verdict == cases.NewCase {
		c.caseNo++
		s.totalCases++
		if t := s.tallies[m.Rule]; t != nil {
			t.cases++
			t.customers[m.CustomerID] = struct{}{}
		}
	}
	s.customers[m.CustomerID] = c
	s.applied[key] = appliedEvent{caseNo: c.caseNo, at: s.now}
}

// sweep forgets, once per guardTTL of replayed time, the applied events
// the guard no longer covers and that are not on their customer's current
// case.
func (s *Simulator) sweep() {
	if s.now.Sub(s.swept) < guardTTL {
		return
	}
	s.swept = s.now
	for k, a := range s.applied {
		if a.caseNo != s.customers[k.customer].caseNo && s.now.Sub(a.at) >= guardTTL {
			delete(s.applied, k)
		}
	}
}

// Report returns the counts so far.
func (s *Simulator) Report() Report {
	r := Report{Events: s.events, TotalCases: s.totalCases, Rules: make([]RuleReport, len(s.rules))}
	for i, name := range s.rules {
		t := s.tallies[name]
		r.Rules[i] = RuleReport{Rule: name, Matches: t.matches, Cases: t.cases, DistinctCustomers: int64(len(t.customers))}
	}
	return r
}
