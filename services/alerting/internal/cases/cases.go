// Package cases is the life of a service-recovery case: which case a rule
// match opens or joins (grouping, cool-down, inhibition), and the moves a
// case makes from open to acknowledged to resolved, its escalations, its
// follow-up and its measured outcome. Pure functions of the case, the input
// and the time given, no I/O; every default is in DefaultSLA.
package cases

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// Sentinels every error of this package wraps: the API maps
// ErrIllegalTransition to FailedPrecondition and ErrInvalid to
// InvalidArgument.
var (
	ErrIllegalTransition = errors.New("illegal case transition")
	ErrInvalid           = errors.New("invalid case input")
)

// State is where a case is in its life.
type State int

// States, in the order of the API's enum.
const (
	NoState State = iota
	Open
	Acknowledged
	Resolved
)

var stateNames = [...]string{"unspecified", "open", "acknowledged", "resolved"}

func (s State) String() string {
	if s < NoState || s > Resolved {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return stateNames[s]
}

// Active is true for open and acknowledged cases: the customer's one case
// that matches attach to.
func (s State) Active() bool { return s == Open || s == Acknowledged }

// ChangeType is what happened to a case.
type ChangeType int

// Change types, in the order of the API's enum.
const (
	NoChange ChangeType = iota
	ChangeOpened
	ChangeUpdated
	ChangeAcknowledged
	ChangeEscalated
	ChangeResolved
	ChangeReopened
	ChangeFollowUpDue
	ChangeOutcomeMeasured
)

var changeNames = [...]string{"unspecified", "opened", "updated", "acknowledged", "escalated", "resolved", "reopened", "follow_up_due", "outcome_measured"}

func (t ChangeType) String() string {
	if t < NoChange || t > ChangeOutcomeMeasured {
		return fmt.Sprintf("change(%d)", int(t))
	}
	return changeNames[t]
}

// Change is one entry of a case's history.
type Change struct {
	Type ChangeType
	// Actor is the person for acknowledge, resolve and reopen, the matching
	// rule for opened and updated, and empty for what the service does on
	// its own (escalation, follow-up, outcome).
	Actor string
	// EventID is the customer event behind opened, updated and
	// outcome_measured.
	EventID string
	At      time.Time
	// Note says what changed beyond the type: a severity rise, the reason
	// for a reopen.
	Note string
	// Resolution and Outcome keep, on resolved and outcome_measured entries,
	// what a reopen clears from the case.
	Resolution *Resolution
	Outcome    *Outcome
	// Inhibited marks an update from a match less severe than the case:
	// kept and counted, but not notified (see Decision.Inhibited).
	Inhibited bool
}

// ActionType is a kind of recovery action.
type ActionType int

// Action types, in the order of the API's enum.
const (
	NoAction ActionType = iota
	Apology
	Fix
	Compensation
	OtherAction
)

var actionNames = [...]string{"unspecified", "apology", "fix", "compensation", "other"}

func (t ActionType) String() string {
	if t < NoAction || t > OtherAction {
		return fmt.Sprintf("action(%d)", int(t))
	}
	return actionNames[t]
}

// Money is an amount in a currency's minor unit.
type Money struct {
	Amount   int64
	Currency string
}

// Action is one thing done to recover the customer.
type Action struct {
	Type ActionType
	Note string
	// Compensation is what the customer received, for a Compensation.
	Compensation Money
}

// Resolution records how a case was closed. Never modified once on a case,
// so a case and its history share it.
type Resolution struct {
	Actions   []Action
	RootCause string
}

// Validate requires at least one action of a known type, a compensation
// amount (positive, with a currency) on every compensation, and a root
// cause.
func (r Resolution) Validate() error {
	if len(r.Actions) == 0 {
		return fmt.Errorf("%w: a resolution needs at least one recovery action", ErrInvalid)
	}
	for i, a := range r.Actions {
		if a.Type <= NoAction || a.Type > OtherAction {
			return fmt.Errorf("%w: action %d: unknown type %d", ErrInvalid, i, int(a.Type))
		}
		if a.Type == Compensation && (a.Compensation.Amount <= 0 || a.Compensation.Currency == "") {
			return fmt.Errorf("%w: action %d: a compensation needs a positive amount and a currency", ErrInvalid, i)
		}
	}
	if strings.TrimSpace(r.RootCause) == "" {
		return fmt.Errorf("%w: a resolution needs a root cause", ErrInvalid)
	}
	return nil
}

// Outcome is whether recovery worked, from the customer's next feedback
// after resolution. Never modified once on a case.
type Outcome struct {
	Recovered bool
	// Before is the experience score that opened the case, After the one
	// that measured the outcome.
	Before, After float64
	EventID       string
	MeasuredAt    time.Time
}

// Case is one customer's service-recovery case. Tenant-free: the store
// keeps cases per tenant.
type Case struct {
	// ID is assigned by the store when it saves a new case; Decide leaves
	// it empty.
	ID         string
	CustomerID string
	State      State
	Severity   alert.Severity
	// Rule opened the case; MatchedRules are every rule matched since,
	// the opening one first, each once.
	Rule         string
	MatchedRules []string
	// Summary, Tier, ValueLevel, Channel, Touchpoint and OpeningExperience
	// describe the opening match and never change; Labels start as the opening rule's and gain
	// the keys later matches add (a key once set keeps its value).
	Summary    string
	Labels     map[string]string
	Tier       string
	ValueLevel string
	Channel    string
	Touchpoint string
	// Events attached; the first opened the case.
	EventCount                  int64
	FirstEventID, LatestEventID string
	OpenedAt, UpdatedAt         time.Time
	// AcknowledgeBy and ResolveBy are the SLA deadlines.
	AcknowledgeBy, ResolveBy time.Time
	// EscalationLevel counts missed acknowledge deadlines since the case
	// (re)opened; routing decides what each level reaches.
	EscalationLevel int
	AcknowledgedBy  string
	AcknowledgedAt  time.Time
	ResolvedBy      string
	ResolvedAt      time.Time
	// Resolution is set while the case is resolved.
	Resolution *Resolution
	// FollowUpAt is when the follow-up with the customer is due; zero when
	// none is pending (before resolution, and once announced).
	FollowUpAt time.Time
	// Outcome is set once the customer's next feedback after resolution
	// measured it.
	Outcome           *Outcome
	OpeningExperience float64
	OpeningNPSClass   string
	History           []Change
}

// Clone is a copy that shares nothing Decide or a transition changes
// (Resolution and Outcome are never modified, so they are shared).
func (c *Case) Clone() *Case {
	d := *c
	d.MatchedRules = slices.Clone(c.MatchedRules)
	d.Labels = maps.Clone(c.Labels)
	d.History = slices.Clone(c.History)
	return &d
}

// Erase removes the customer's personal data from the case, for a customer
// who asked to be forgotten: who they are (their id, the summary and labels
// drawn from their feedback) and what people wrote about them (action
// notes, reopen reasons). What reports count stays: state, severity, rules,
// times, counts, outcome, the kinds of actions and compensations, and the
// root cause, which describes the failure, not the customer.
func (c *Case) Erase() {
	c.CustomerID, c.Summary, c.Labels = "", "", nil
	c.Resolution = withoutNotes(c.Resolution)
	for i := range c.History {
		c.History[i].Resolution = withoutNotes(c.History[i].Resolution)
		if c.History[i].Type == ChangeReopened {
			c.History[i].Note = ""
		}
	}
}

func withoutNotes(r *Resolution) *Resolution {
	if r == nil {
		return nil
	}
	out := &Resolution{RootCause: r.RootCause, Actions: slices.Clone(r.Actions)}
	for i := range out.Actions {
		out.Actions[i].Note = ""
	}
	return out
}

// has is true when the event already opened or joined the case, or
// measured its outcome.
func (c *Case) has(eventID string) bool {
	if eventID == "" {
		return false
	}
	return c.LatestEventID == eventID || slices.ContainsFunc(c.History, func(ch Change) bool { return ch.EventID == eventID })
}

// record appends ch to the history. UpdatedAt never goes back: events may
// arrive out of order.
func (c *Case) record(ch Change) {
	c.History = append(c.History, ch)
	if ch.At.After(c.UpdatedAt) {
		c.UpdatedAt = ch.At
	}
}

// raise moves the case to severity s at time at, with the deadlines of s
// counted from at — but never later than the current ones: a worse
// experience must not buy the team more time. The acknowledge deadline
// matters only while the case is open.
func (c *Case) raise(s alert.Severity, at time.Time, sla SLA) {
	c.Severity = s
	d := sla.For(s)
	if c.State == Open {
		c.AcknowledgeBy = earlier(c.AcknowledgeBy, at.Add(d.AcknowledgeWithin))
	}
	c.ResolveBy = earlier(c.ResolveBy, at.Add(d.ResolveWithin))
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func requireBy(by, what string) error {
	if strings.TrimSpace(by) == "" {
		return fmt.Errorf("%w: %s needs the person's name", ErrInvalid, what)
	}
	return nil
}

func illegal(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrIllegalTransition}, args...)...)
}

// Acknowledge records that by owns the open case.
func (c *Case) Acknowledge(by string, at time.Time) error {
	if err := requireBy(by, "acknowledging"); err != nil {
		return err
	}
	if c.State != Open {
		return illegal("cannot acknowledge a %s case", c.State)
	}
	c.State, c.AcknowledgedBy, c.AcknowledgedAt = Acknowledged, by, at
	c.record(Change{Type: ChangeAcknowledged, Actor: by, At: at})
	return nil
}

// Resolve closes an open or acknowledged case with what was done and why it
// happened, and schedules the follow-up. An open case may be resolved
// without an acknowledgement first (the fix came before anyone took it);
// its acknowledged fields then stay empty, so reports see the missing
// acknowledgement.
func (c *Case) Resolve(by string, r Resolution, at time.Time, sla SLA) error {
	if err := requireBy(by, "resolving"); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if !c.State.Active() {
		return illegal("cannot resolve a %s case", c.State)
	}
	r.Actions = slices.Clone(r.Actions) // the caller keeps its slice
	c.State, c.ResolvedBy, c.ResolvedAt, c.Resolution = Resolved, by, at, &r
	c.FollowUpAt = at.Add(sla.FollowUpAfter)
	c.record(Change{Type: ChangeResolved, Actor: by, At: at, Resolution: &r})
	return nil
}

// Reopen opens a resolved case again: the issue was not fixed. The case
// starts over as if newly opened at its current severity — open, not
// acknowledged, escalation level 0, fresh deadlines from at — and loses its
// resolution, pending follow-up and outcome, which belonged to a recovery
// that did not hold (the history keeps them).
func (c *Case) Reopen(by, reason string, at time.Time, sla SLA) error {
	if err := requireBy(by, "reopening"); err != nil {
		return err
	}
	if c.State != Resolved {
		return illegal("cannot reopen a %s case", c.State)
	}
	d := sla.For(c.Severity)
	c.State, c.EscalationLevel = Open, 0
	c.AcknowledgeBy, c.ResolveBy = at.Add(d.AcknowledgeWithin), at.Add(d.ResolveWithin)
	c.AcknowledgedBy, c.AcknowledgedAt = "", time.Time{}
	c.ResolvedBy, c.ResolvedAt, c.Resolution = "", time.Time{}, nil
	c.FollowUpAt, c.Outcome = time.Time{}, nil
	c.record(Change{Type: ChangeReopened, Actor: by, At: at, Note: reason})
	return nil
}

// Escalate moves an open case that nobody acknowledged by its deadline to
// the next level: severity one step up (at most critical; the level still
// rises), a new acknowledge deadline from at for that severity, and the
// resolve deadline tightened to it if sooner.
func (c *Case) Escalate(at time.Time, sla SLA) error {
	if c.State != Open {
		return illegal("cannot escalate a %s case", c.State)
	}
	if !at.After(c.AcknowledgeBy) {
		return illegal("acknowledge deadline %s not passed at %s", c.AcknowledgeBy.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	from := c.Severity
	c.Severity = from.Raise()
	d := sla.For(c.Severity)
	c.AcknowledgeBy = at.Add(d.AcknowledgeWithin) // the missed deadline must not cap the new one
	c.ResolveBy = earlier(c.ResolveBy, at.Add(d.ResolveWithin))
	c.EscalationLevel++
	c.record(Change{Type: ChangeEscalated, At: at, Note: fmt.Sprintf("level %d, severity %s → %s", c.EscalationLevel, from, c.Severity)})
	return nil
}

// FollowUpDue announces, once, that the follow-up with the customer of a
// resolved case is due.
func (c *Case) FollowUpDue(at time.Time) error {
	if c.State != Resolved || c.FollowUpAt.IsZero() {
		return illegal("no follow-up pending on a %s case", c.State)
	}
	if at.Before(c.FollowUpAt) {
		return illegal("follow-up due at %s, not at %s", c.FollowUpAt.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	c.FollowUpAt = time.Time{}
	c.record(Change{Type: ChangeFollowUpDue, At: at})
	return nil
}

// NPSImproved is true when the NPS class moved up from from to to
// (detractor < passive < promoter); false when either is unknown.
func NPSImproved(from, to string) bool {
	rank := map[string]int{"detractor": 1, "passive": 2, "promoter": 3}
	return rank[from] > 0 && rank[to] > rank[from]
}

// MeasureOutcome records, once per resolution, the outcome from the
// customer's next feedback (eventID, at its time at): recovered when its
// experience score beat the one that opened the case, or its NPS class
// improved. Feedback from before the resolution cannot measure it.
func (c *Case) MeasureOutcome(eventID string, experience float64, npsImproved bool, at time.Time) error {
	if eventID == "" {
		return fmt.Errorf("%w: an outcome needs the event that measured it", ErrInvalid)
	}
	if c.State != Resolved {
		return illegal("cannot measure the outcome of a %s case", c.State)
	}
	if c.Outcome != nil {
		return illegal("outcome already measured by event %s", c.Outcome.EventID)
	}
	if at.Before(c.ResolvedAt) {
		return illegal("feedback at %s predates the resolution at %s", at.Format(time.RFC3339), c.ResolvedAt.Format(time.RFC3339))
	}
	o := &Outcome{
		Recovered: experience > c.OpeningExperience || npsImproved,
		Before:    c.OpeningExperience, After: experience,
		EventID: eventID, MeasuredAt: at,
	}
	c.Outcome = o
	c.record(Change{Type: ChangeOutcomeMeasured, EventID: eventID, At: at, Outcome: o})
	return nil
}
