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

const day = 24 * time.Hour

// Deadlines are how long a case of one severity may wait.
type Deadlines struct {
	AcknowledgeWithin, ResolveWithin time.Duration
}

// SLA is a tenant's service level for cases.
type SLA struct {
	// Deadlines per severity, indexed by alert.Severity (NoSeverity unused).
	Deadlines [alert.Critical + 1]Deadlines
	// FollowUpAfter is how long after resolution the follow-up with the
	// customer is due.
	FollowUpAfter time.Duration
	// CoolDown is how long after resolution matches of the same or a lower
	// severity are suppressed instead of opening a new case: the same
	// incident keeps producing events for a while after it is fixed.
	CoolDown time.Duration
}

// DefaultSLA acknowledges critical cases within 15 minutes and resolves
// them within 4 hours; high 1h / 24h, medium 4h / 72h, low 24h / 7 days.
// The follow-up is due 72 hours after resolution, long enough for the fix
// to be felt; the cool-down lasts 24 hours.
func DefaultSLA() SLA {
	var s SLA
	s.Deadlines[alert.Critical] = Deadlines{15 * time.Minute, 4 * time.Hour}
	s.Deadlines[alert.High] = Deadlines{time.Hour, day}
	s.Deadlines[alert.Medium] = Deadlines{4 * time.Hour, 3 * day}
	s.Deadlines[alert.Low] = Deadlines{day, 7 * day}
	s.FollowUpAfter, s.CoolDown = 3*day, day
	return s
}

// ParseDeadlines overrides the deadlines of base with spec, a
// comma-separated list of severity=acknowledge/resolve durations, e.g.
// "critical=15m/4h,high=1h/24h"; severities not named keep base's. The
// result is not validated (Validate does that).
func ParseDeadlines(spec string, base SLA) (SLA, error) {
	out := base
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, durations, ok := strings.Cut(item, "=")
		ack, resolve, ok2 := strings.Cut(durations, "/")
		if !ok || !ok2 {
			return SLA{}, fmt.Errorf("%q: want severity=acknowledge/resolve, e.g. critical=15m/4h", item)
		}
		sev, err := alert.ParseSeverity(strings.TrimSpace(name))
		if err != nil {
			return SLA{}, err
		}
		a, err := time.ParseDuration(strings.TrimSpace(ack))
		if err != nil {
			return SLA{}, fmt.Errorf("%s: acknowledge within: %w", sev, err)
		}
		r, err := time.ParseDuration(strings.TrimSpace(resolve))
		if err != nil {
			return SLA{}, fmt.Errorf("%s: resolve within: %w", sev, err)
		}
		out.Deadlines[sev] = Deadlines{a, r}
	}
	return out, nil
}

// For is the deadlines of severity sev; outside low…critical, the nearest.
func (s SLA) For(sev alert.Severity) Deadlines {
	return s.Deadlines[min(max(sev, alert.Low), alert.Critical)]
}

// Validate requires positive deadlines, acknowledging no later than
// resolving, more urgent severities no slower than less urgent ones, a
// positive follow-up delay and a cool-down that is not negative.
func (s SLA) Validate() error {
	var errs []error
	for sev := alert.Low; sev <= alert.Critical; sev++ {
		d := s.Deadlines[sev]
		if d.AcknowledgeWithin <= 0 || d.ResolveWithin < d.AcknowledgeWithin {
			errs = append(errs, fmt.Errorf("%s: acknowledge within must be positive and no longer than resolve within", sev))
		}
		if prev := s.Deadlines[sev-1]; sev > alert.Low && (d.AcknowledgeWithin > prev.AcknowledgeWithin || d.ResolveWithin > prev.ResolveWithin) {
			errs = append(errs, fmt.Errorf("%s: deadlines must be no longer than %s's", sev, sev-1))
		}
	}
	if s.FollowUpAfter <= 0 {
		errs = append(errs, errors.New("follow-up delay must be positive"))
	}
	if s.CoolDown < 0 {
		errs = append(errs, errors.New("cool-down must not be negative"))
	}
	return errors.Join(errs...)
}

// Match is one event that matched a rule.
type Match struct {
	CustomerID string
	Rule       string
	Severity   alert.Severity
	Summary    string
	Labels     map[string]string
	EventID    string
	// At is the event's time: cool-downs and deadlines count from it, so a
	// replay (the backtest) decides as the live service did.
	At               time.Time
	Tier, ValueLevel string
	// Channel and Touchpoint are the feedback's (empty for other events).
	Channel, Touchpoint string
	// Experience and NPSClass are the event's experience score and NPS
	// class (detractor, passive, promoter; empty without an answer); an
	// opening match's are what the outcome is measured against.
	Experience float64
	NPSClass   string
}

// Validate requires what Decide relies on: a customer, a rule, a severity
// from low to critical, an event id and a time.
func (m Match) Validate() error {
	switch {
	case m.CustomerID == "":
		return fmt.Errorf("%w: match without a customer", ErrInvalid)
	case m.Rule == "":
		return fmt.Errorf("%w: match without a rule", ErrInvalid)
	case m.Severity < alert.Low || m.Severity > alert.Critical:
		return fmt.Errorf("%w: match severity %s", ErrInvalid, m.Severity)
	case m.EventID == "":
		return fmt.Errorf("%w: match without an event id", ErrInvalid)
	case m.At.IsZero():
		return fmt.Errorf("%w: match without a time", ErrInvalid)
	}
	return nil
}

// Verdict is what Decide does with a match.
type Verdict int

// Verdicts.
const (
	NoVerdict Verdict = iota
	// NewCase opens a case.
	NewCase
	// Attach joins the customer's open case.
	Attach
	// Suppressed drops the match: the customer's case was resolved within
	// the cool-down.
	Suppressed
	// Duplicate drops an event the case already has (a redelivery).
	Duplicate
)

var verdictNames = [...]string{"unspecified", "new_case", "attach", "suppressed", "duplicate"}

func (v Verdict) String() string {
	if v < NoVerdict || v > Duplicate {
		return fmt.Sprintf("verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// Decision is what a match does.
type Decision struct {
	Verdict Verdict
	// Case is, for NewCase and Attach, the case to save (for Attach a
	// changed copy of the current one); its last history entry is the
	// change to announce. Nil otherwise.
	Case *Case
	// Inhibited is set on an Attach below the case's severity: the match
	// joins and counts, but is not announced on its own — the case already
	// drew more urgent attention.
	Inhibited bool
	// Reason explains a Suppressed, Duplicate or Inhibited decision, and a
	// NewCase opened during a cool-down.
	Reason string
	// Unrecorded is set on an Attach past MaxRecordedUpdates that raises
	// nothing: the case counts the event, its history does not list it, and
	// it is not announced.
	Unrecorded bool
}

// MaxRecordedUpdates bounds the updated entries a case's history keeps;
// an update that raises the severity is always kept.
const MaxRecordedUpdates = 100

// updates counts c's updated entries.
func (c *Case) updates() int {
	n := 0
	for _, ch := range c.History {
		if ch.Type == ChangeUpdated {
			n++
		}
	}
	return n
}

// Decide is what match m does, given current, the customer's latest case
// (nil if none); current is not modified. m must be valid (Match.Validate).
//
//   - The event is already on current (its latest event, or any event in
//     its history): Duplicate, so a redelivery changes nothing.
//   - current is open or acknowledged: Attach. The count and latest event
//     move, the rule joins MatchedRules, labels gain new keys. A higher
//     severity raises the case and tightens its deadlines to the new
//     severity's counted from the match, never extending them; a lower one
//     never lowers it, and is Inhibited.
//   - current was resolved and m comes before ResolvedAt + CoolDown: the
//     incident is still echoing, Suppressed — unless m is more severe than
//     the resolved case (as it ended, escalations included), which is a
//     new, worse experience and opens a NewCase.
//   - Otherwise: NewCase, with deadlines from the SLA of m's severity.
func Decide(current *Case, m Match, sla SLA) Decision {
	if current != nil && current.has(m.EventID) {
		return Decision{Verdict: Duplicate, Reason: fmt.Sprintf("event %s already on case %s", m.EventID, current.ID)}
	}
	if current != nil && current.State.Active() {
		return attach(current, m, sla)
	}
	var reason string
	if current != nil && current.State == Resolved {
		if end := current.ResolvedAt.Add(sla.CoolDown); m.At.Before(end) {
			if m.Severity <= current.Severity {
				return Decision{Verdict: Suppressed, Reason: fmt.Sprintf(
					"case %s resolved at %s, cool-down until %s; %s is not above its %s",
					current.ID, current.ResolvedAt.Format(time.RFC3339), end.Format(time.RFC3339), m.Severity, current.Severity)}
			}
			reason = fmt.Sprintf("%s is above the %s of case %s, resolved within the cool-down", m.Severity, current.Severity, current.ID)
		}
	}
	return Decision{Verdict: NewCase, Case: open(m, sla), Reason: reason}
}

func open(m Match, sla SLA) *Case {
	d := sla.For(m.Severity)
	c := &Case{
		CustomerID: m.CustomerID, State: Open, Severity: m.Severity,
		Rule: m.Rule, MatchedRules: []string{m.Rule},
		Summary: m.Summary, Labels: maps.Clone(m.Labels),
		Tier: m.Tier, ValueLevel: m.ValueLevel, Channel: m.Channel, Touchpoint: m.Touchpoint,
		EventCount: 1, FirstEventID: m.EventID, LatestEventID: m.EventID,
		OpenedAt: m.At, AcknowledgeBy: m.At.Add(d.AcknowledgeWithin), ResolveBy: m.At.Add(d.ResolveWithin),
		OpeningExperience: m.Experience, OpeningNPSClass: m.NPSClass,
	}
	c.record(Change{Type: ChangeOpened, Actor: m.Rule, EventID: m.EventID, At: m.At})
	return c
}

func attach(current *Case, m Match, sla SLA) Decision {
	c := current.Clone()
	c.EventCount++
	c.LatestEventID = m.EventID
	if !slices.Contains(c.MatchedRules, m.Rule) {
		c.MatchedRules = append(c.MatchedRules, m.Rule)
	}
	for k, v := range m.Labels {
		if _, ok := c.Labels[k]; !ok {
			if c.Labels == nil {
				c.Labels = make(map[string]string, len(m.Labels))
			}
			c.Labels[k] = v
		}
	}
	dec := Decision{Verdict: Attach, Case: c}
	var note string
	switch {
	case m.Severity > c.Severity:
		note = fmt.Sprintf("severity %s → %s", c.Severity, m.Severity)
		c.raise(m.Severity, m.At, sla)
	case m.Severity < c.Severity:
		dec.Inhibited = true
		dec.Reason = fmt.Sprintf("%s match inhibited by the case's %s", m.Severity, c.Severity)
	}
	if note == "" && c.updates() >= MaxRecordedUpdates {
		// Counted, not kept: a case that keeps attaching events must not
		// grow without end (the store rewrites it whole). Redeliveries are
		// still recognised by the store's guards.
		dec.Unrecorded = true
		return dec
	}
	c.record(Change{Type: ChangeUpdated, Actor: m.Rule, EventID: m.EventID, At: m.At, Note: note, Inhibited: dec.Inhibited})
	return dec
}
