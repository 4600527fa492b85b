package cases

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

func TestTransitions(t *testing.T) {
	medium := func() *Case { return opened(alert.Medium) } // acknowledge by 4h, resolve by 72h
	ack := func() *Case { return acknowledged(alert.Medium) }
	res := func() *Case { return resolved(alert.Medium) } // resolved at 2h, follow-up due at 74h
	followedUp := func() *Case {
		c := res()
		must(c.FollowUpDue(at(74 * time.Hour)))
		return c
	}
	measured := func() *Case {
		c := res()
		must(c.MeasureOutcome("e9", 80, false, at(50*time.Hour)))
		return c
	}
	reopened := func() *Case {
		c := measured()
		must(c.Reopen("bo", "still broken", at(60*time.Hour), sla))
		return c
	}
	withResolution := func(f func(*Resolution)) Resolution {
		r := resolution()
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name  string
		c     func() *Case
		do    func(*Case) error
		err   error // nil: legal, ErrIllegalTransition or ErrInvalid
		check func(t *testing.T, c *Case)
	}{
		// Acknowledge.
		{"acknowledge an open case", medium, func(c *Case) error { return c.Acknowledge("ana", at(time.Minute)) }, nil, func(t *testing.T, c *Case) {
			if c.State != Acknowledged || c.AcknowledgedBy != "ana" || !c.AcknowledgedAt.Equal(at(time.Minute)) || !c.ResolveBy.Equal(at(72*time.Hour)) {
				t.Errorf("case %+v", c)
			}
			if ch := last(c); ch.Type != ChangeAcknowledged || ch.Actor != "ana" {
				t.Errorf("change %+v", ch)
			}
		}},
		{"acknowledge after the deadline", medium, func(c *Case) error { return c.Acknowledge("ana", at(10*time.Hour)) }, nil, nil},
		{"acknowledge twice", ack, func(c *Case) error { return c.Acknowledge("bo", at(time.Hour)) }, ErrIllegalTransition, nil},
		{"acknowledge a resolved case", res, func(c *Case) error { return c.Acknowledge("bo", at(3*time.Hour)) }, ErrIllegalTransition, nil},
		{"acknowledge by nobody", medium, func(c *Case) error { return c.Acknowledge(" ", at(time.Minute)) }, ErrInvalid, nil},

		// Resolve.
		{"resolve an acknowledged case", ack, func(c *Case) error { return c.Resolve("ana", resolution(), at(2*time.Hour), sla) }, nil, func(t *testing.T, c *Case) {
			if c.State != Resolved || c.ResolvedBy != "ana" || !c.ResolvedAt.Equal(at(2*time.Hour)) || !reflect.DeepEqual(*c.Resolution, resolution()) {
				t.Errorf("case %+v", c)
			}
			if !c.FollowUpAt.Equal(at(74 * time.Hour)) {
				t.Errorf("follow-up at %v, want 72h after resolution", c.FollowUpAt)
			}
			if ch := last(c); ch.Type != ChangeResolved || ch.Actor != "ana" || ch.Resolution != c.Resolution {
				t.Errorf("change %+v", ch)
			}
		}},
		{"resolve an open case without acknowledging", medium, func(c *Case) error { return c.Resolve("ana", resolution(), at(time.Hour), sla) }, nil,
			func(t *testing.T, c *Case) {
				if c.State != Resolved || c.AcknowledgedBy != "" || !c.AcknowledgedAt.IsZero() {
					t.Errorf("case %+v", c)
				}
			}},
		{"resolve with only an apology", ack, func(c *Case) error {
			return c.Resolve("ana", Resolution{Actions: []Action{{Type: Apology}}, RootCause: "rude agent"}, at(time.Hour), sla)
		}, nil, nil},
		{"resolve twice", res, func(c *Case) error { return c.Resolve("ana", resolution(), at(3*time.Hour), sla) }, ErrIllegalTransition, nil},
		{"resolve by nobody", ack, func(c *Case) error { return c.Resolve("", resolution(), at(time.Hour), sla) }, ErrInvalid, nil},
		{"resolve without actions", ack, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.Actions = nil }), at(time.Hour), sla)
		}, ErrInvalid, nil},
		{"resolve without a root cause", ack, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.RootCause = " \n" }), at(time.Hour), sla)
		}, ErrInvalid, nil},
		{"a compensation without an amount", ack, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.Actions[1].Compensation.Amount = 0 }), at(time.Hour), sla)
		}, ErrInvalid, nil},
		{"a compensation without a currency", ack, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.Actions[1].Compensation.Currency = "" }), at(time.Hour), sla)
		}, ErrInvalid, nil},
		{"an action of no type", ack, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.Actions[0].Type = NoAction }), at(time.Hour), sla)
		}, ErrInvalid, nil},
		{"invalid input is reported before the state", res, func(c *Case) error {
			return c.Resolve("ana", withResolution(func(r *Resolution) { r.Actions = nil }), at(3*time.Hour), sla)
		}, ErrInvalid, nil},

		// Reopen.
		{"reopen a resolved case", measured, func(c *Case) error { return c.Reopen("bo", "still broken", at(60*time.Hour), sla) }, nil,
			func(t *testing.T, c *Case) {
				if c.State != Open || c.Severity != alert.Medium || c.EscalationLevel != 0 ||
					!c.AcknowledgeBy.Equal(at(64*time.Hour)) || !c.ResolveBy.Equal(at(132*time.Hour)) {
					t.Errorf("state %s, severity %s, level %d, deadlines %v %v", c.State, c.Severity, c.EscalationLevel, c.AcknowledgeBy, c.ResolveBy)
				}
				if c.AcknowledgedBy != "" || c.ResolvedBy != "" || !c.ResolvedAt.IsZero() || c.Resolution != nil || !c.FollowUpAt.IsZero() || c.Outcome != nil {
					t.Errorf("case keeps the old recovery: %+v", c)
				}
				if ch := last(c); ch.Type != ChangeReopened || ch.Actor != "bo" || ch.Note != "still broken" {
					t.Errorf("change %+v", ch)
				}
				var kept int // the history keeps what the case lost
				for _, ch := range c.History {
					if ch.Type == ChangeResolved && ch.Resolution != nil || ch.Type == ChangeOutcomeMeasured && ch.Outcome != nil {
						kept++
					}
				}
				if kept != 2 {
					t.Errorf("history %+v: want the resolution and the outcome kept", c.History)
				}
			}},
		{"resolve a reopened case again", reopened, func(c *Case) error { return c.Resolve("bo", resolution(), at(61*time.Hour), sla) }, nil, nil},
		{"reopen an open case", medium, func(c *Case) error { return c.Reopen("bo", "", at(time.Hour), sla) }, ErrIllegalTransition, nil},
		{"reopen an acknowledged case", ack, func(c *Case) error { return c.Reopen("bo", "", at(time.Hour), sla) }, ErrIllegalTransition, nil},
		{"reopen by nobody", res, func(c *Case) error { return c.Reopen("", "why", at(3*time.Hour), sla) }, ErrInvalid, nil},

		// Escalate.
		{"escalate past the acknowledge deadline", medium, func(c *Case) error { return c.Escalate(at(4*time.Hour+time.Minute), sla) }, nil,
			func(t *testing.T, c *Case) {
				if c.State != Open || c.Severity != alert.High || c.EscalationLevel != 1 ||
					!c.AcknowledgeBy.Equal(at(5*time.Hour+time.Minute)) || !c.ResolveBy.Equal(at(28*time.Hour+time.Minute)) {
					t.Errorf("severity %s, level %d, deadlines %v %v", c.Severity, c.EscalationLevel, c.AcknowledgeBy, c.ResolveBy)
				}
				if ch := last(c); ch.Type != ChangeEscalated || ch.Actor != "" || ch.Note != "level 1, severity medium → high" {
					t.Errorf("change %+v", ch)
				}
			}},
		{"escalation keeps a sooner resolve deadline", func() *Case { return opened(alert.High) }, // resolve by 24h
			func(c *Case) error { return c.Escalate(at(23*time.Hour), sla) }, nil, func(t *testing.T, c *Case) {
				if c.Severity != alert.Critical || !c.ResolveBy.Equal(at(24*time.Hour)) || !c.AcknowledgeBy.Equal(at(23*time.Hour+15*time.Minute)) {
					t.Errorf("severity %s, deadlines %v %v", c.Severity, c.AcknowledgeBy, c.ResolveBy)
				}
			}},
		{"escalating a critical case raises only the level", func() *Case { return opened(alert.Critical) },
			func(c *Case) error { return c.Escalate(at(16*time.Minute), sla) }, nil, func(t *testing.T, c *Case) {
				if c.Severity != alert.Critical || c.EscalationLevel != 1 || !c.AcknowledgeBy.Equal(at(31*time.Minute)) {
					t.Errorf("severity %s, level %d, acknowledge by %v", c.Severity, c.EscalationLevel, c.AcknowledgeBy)
				}
			}},
		{"escalate at the deadline", medium, func(c *Case) error { return c.Escalate(at(4*time.Hour), sla) }, ErrIllegalTransition, nil},
		{"escalate an acknowledged case", ack, func(c *Case) error { return c.Escalate(at(5*time.Hour), sla) }, ErrIllegalTransition, nil},
		{"escalate a resolved case", res, func(c *Case) error { return c.Escalate(at(100*time.Hour), sla) }, ErrIllegalTransition, nil},

		// Follow-up.
		{"follow-up when due", res, func(c *Case) error { return c.FollowUpDue(at(74 * time.Hour)) }, nil, func(t *testing.T, c *Case) {
			if !c.FollowUpAt.IsZero() || last(c).Type != ChangeFollowUpDue || c.State != Resolved {
				t.Errorf("case %+v", c)
			}
		}},
		{"follow-up before due", res, func(c *Case) error { return c.FollowUpDue(at(73 * time.Hour)) }, ErrIllegalTransition, nil},
		{"follow-up twice", followedUp, func(c *Case) error { return c.FollowUpDue(at(80 * time.Hour)) }, ErrIllegalTransition, nil},
		{"follow-up of an open case", medium, func(c *Case) error { return c.FollowUpDue(at(100 * time.Hour)) }, ErrIllegalTransition, nil},
		{"follow-up of a reopened case", reopened, func(c *Case) error { return c.FollowUpDue(at(100 * time.Hour)) }, ErrIllegalTransition, nil},

		// Outcome.
		{"a better experience: recovered", res, func(c *Case) error { return c.MeasureOutcome("e9", 80, false, at(50*time.Hour)) }, nil,
			func(t *testing.T, c *Case) {
				want := Outcome{Recovered: true, Before: 30, After: 80, EventID: "e9", MeasuredAt: at(50 * time.Hour)}
				if c.Outcome == nil || *c.Outcome != want {
					t.Errorf("outcome %+v, want %+v", c.Outcome, want)
				}
				if ch := last(c); ch.Type != ChangeOutcomeMeasured || ch.EventID != "e9" || ch.Outcome != c.Outcome {
					t.Errorf("change %+v", ch)
				}
			}},
		{"a better NPS class: recovered", res, func(c *Case) error { return c.MeasureOutcome("e9", 20, true, at(50*time.Hour)) }, nil,
			func(t *testing.T, c *Case) {
				if !c.Outcome.Recovered {
					t.Errorf("outcome %+v", c.Outcome)
				}
			}},
		{"the same experience: not recovered", res, func(c *Case) error { return c.MeasureOutcome("e9", 30, false, at(50*time.Hour)) }, nil,
			func(t *testing.T, c *Case) {
				if c.Outcome.Recovered {
					t.Errorf("outcome %+v", c.Outcome)
				}
			}},
		{"feedback at the resolution measures", res, func(c *Case) error { return c.MeasureOutcome("e9", 10, false, at(2*time.Hour)) }, nil, nil},
		{"feedback before the resolution", res, func(c *Case) error { return c.MeasureOutcome("e9", 80, false, at(time.Hour)) }, ErrIllegalTransition, nil},
		{"measure twice", measured, func(c *Case) error { return c.MeasureOutcome("e10", 90, false, at(51*time.Hour)) }, ErrIllegalTransition, nil},
		{"measure an open case", medium, func(c *Case) error { return c.MeasureOutcome("e9", 80, false, at(time.Hour)) }, ErrIllegalTransition, nil},
		{"measure an acknowledged case", ack, func(c *Case) error { return c.MeasureOutcome("e9", 80, false, at(time.Hour)) }, ErrIllegalTransition, nil},
		{"measure without an event", res, func(c *Case) error { return c.MeasureOutcome("", 80, false, at(50*time.Hour)) }, ErrInvalid, nil},
	} {
		c := tc.c()
		before := c.Clone()
		err := tc.do(c)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		case err != nil:
			if errors.Is(err, ErrIllegalTransition) && errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v is both illegal and invalid", tc.name, err)
			}
			if !reflect.DeepEqual(c, before) {
				t.Errorf("%s: a rejected transition changed the case", tc.name)
			}
		default:
			if len(c.History) != len(before.History)+1 || !last(c).At.After(time.Time{}) {
				t.Errorf("%s: history %+v: want one change appended", tc.name, c.History)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		}
	}
}

func TestResolveKeepsItsOwnCopy(t *testing.T) {
	c := acknowledged(alert.High)
	r := resolution()
	must(c.Resolve("ana", r, at(time.Hour), sla))
	r.Actions[0].Note = "changed by the caller"
	if c.Resolution.Actions[0].Note != "called the customer" {
		t.Errorf("the caller's slice changed the case: %+v", c.Resolution)
	}
}

func TestErrorsSayWhy(t *testing.T) {
	c := resolved(alert.Medium)
	err := c.Acknowledge("bo", at(3*time.Hour))
	if err == nil || err.Error() != "illegal case transition: cannot acknowledge a resolved case" {
		t.Errorf("error %v", err)
	}
	err = c.Reopen("", "", at(3*time.Hour), sla)
	if err == nil || !strings.Contains(err.Error(), "reopening needs the person's name") {
		t.Errorf("error %v", err)
	}
}

// TestALife follows one case from its first event to a measured recovery.
func TestALife(t *testing.T) {
	d := Decide(nil, match("e1", alert.Medium, 0), sla)
	c := d.Case
	c.ID = "case-7"
	if d = Decide(c, match("e2", alert.High, 30*time.Minute), sla); d.Verdict != Attach {
		t.Fatalf("second event: %s", d.Verdict)
	}
	c = d.Case
	must(c.Escalate(at(2*time.Hour), sla)) // high: acknowledge by 1h30m, missed
	must(c.Acknowledge("ana", at(2*time.Hour+5*time.Minute)))
	must(c.Resolve("ana", resolution(), at(3*time.Hour), sla))
	if d := Decide(c, match("e3", alert.High, 4*time.Hour), sla); d.Verdict != Suppressed {
		t.Errorf("echo of the incident: %s", d.Verdict)
	}
	must(c.MeasureOutcome("e4", 70, false, at(40*time.Hour)))
	must(c.FollowUpDue(at(75 * time.Hour)))
	if d := Decide(c, match("e4", alert.Low, 40*time.Hour), sla); d.Verdict != Duplicate {
		t.Errorf("the outcome's event matching a rule: %s, want duplicate", d.Verdict)
	}
	var types []string
	for _, ch := range c.History {
		types = append(types, ch.Type.String())
	}
	want := "opened updated escalated acknowledged resolved outcome_measured follow_up_due"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	if c.Severity != alert.Critical || c.EscalationLevel != 1 || c.EventCount != 2 || !c.Outcome.Recovered || !c.UpdatedAt.Equal(at(75*time.Hour)) {
		t.Errorf("case %+v", c)
	}
}

func TestNPSImproved(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"detractor", "passive", true},
		{"detractor", "promoter", true},
		{"passive", "promoter", true},
		{"passive", "passive", false},
		{"promoter", "passive", false},
		{"", "promoter", false},
		{"detractor", "", false},
	} {
		if got := NPSImproved(tc.from, tc.to); got != tc.want {
			t.Errorf("NPSImproved(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestEraseKeepsWhatReportsCount(t *testing.T) {
	sla := DefaultSLA()
	c := Decide(nil, Match{CustomerID: "ann", Rule: "complaint", Severity: alert.High, Summary: "Ann complained", Labels: map[string]string{"team": "x"}, EventID: "e1", At: t0}, sla).Case
	r := Resolution{RootCause: "late courier", Actions: []Action{{Type: Compensation, Note: "voucher for Ann", Compensation: Money{500, "EUR"}}}}
	if err := c.Resolve("ops", r, t0.Add(time.Hour), sla); err != nil {
		t.Fatal(err)
	}
	if err := c.Reopen("ops", "Ann called again", t0.Add(2*time.Hour), sla); err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve("ops", r, t0.Add(3*time.Hour), sla); err != nil {
		t.Fatal(err)
	}
	c.Erase()
	if c.CustomerID != "" || c.Summary != "" || c.Labels != nil {
		t.Errorf("identity kept: %q %q %v", c.CustomerID, c.Summary, c.Labels)
	}
	if c.State != Resolved || c.Severity != alert.High || c.Rule != "complaint" || c.EventCount != 1 || !c.ResolvedAt.Equal(t0.Add(3*time.Hour)) ||
		c.Resolution.RootCause != "late courier" || c.Resolution.Actions[0].Compensation.Amount != 500 || len(c.History) != 4 {
		t.Errorf("what reports count changed: %+v", c)
	}
	for _, ch := range c.History {
		if ch.Type == ChangeReopened && ch.Note != "" {
			t.Errorf("reopen reason kept: %q", ch.Note)
		}
		if ch.Resolution != nil && ch.Resolution.Actions[0].Note != "" {
			t.Errorf("action note kept in the history: %q", ch.Resolution.Actions[0].Note)
		}
	}
	if r.Actions[0].Note != "voucher for Ann" {
		t.Error("Erase modified the caller's resolution")
	}
}
