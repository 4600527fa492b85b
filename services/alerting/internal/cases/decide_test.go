package cases

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

var (
	t0  = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sla = DefaultSLA()
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// match is event id of customer c1 matching the complaint rule at t0+after.
func match(id string, sev alert.Severity, after time.Duration) Match {
	return Match{
		CustomerID: "c1", Rule: "complaint", Severity: sev, Summary: "complaint from a gold customer",
		Labels: map[string]string{"team": "support"}, EventID: id, At: at(after),
		Tier: "gold", ValueLevel: "high", Experience: 30,
	}
}

// opened is a case of severity sev opened by event e1 at t0.
func opened(sev alert.Severity) *Case {
	c := Decide(nil, match("e1", sev, 0), sla).Case
	c.ID = "case-1"
	return c
}

func acknowledged(sev alert.Severity) *Case {
	c := opened(sev)
	must(c.Acknowledge("ana", at(5*time.Minute)))
	return c
}

func resolution() Resolution {
	return Resolution{
		Actions: []Action{
			{Type: Apology, Note: "called the customer"},
			{Type: Compensation, Note: "voucher", Compensation: Money{Amount: 1500, Currency: "EUR"}},
		},
		RootCause: "the courier lost the parcel",
	}
}

// resolved is a case of severity sev resolved at t0+2h.
func resolved(sev alert.Severity) *Case {
	c := acknowledged(sev)
	must(c.Resolve("ana", resolution(), at(2*time.Hour), sla))
	return c
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func with(m Match, f func(*Match)) Match {
	f(&m)
	return m
}

func last(c *Case) Change { return c.History[len(c.History)-1] }

func TestDefaultSLA(t *testing.T) {
	if err := sla.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sev              alert.Severity
		ack, resolveWith time.Duration
	}{
		{alert.Critical, 15 * time.Minute, 4 * time.Hour},
		{alert.High, time.Hour, 24 * time.Hour},
		{alert.Medium, 4 * time.Hour, 72 * time.Hour},
		{alert.Low, 24 * time.Hour, 7 * 24 * time.Hour},
		{alert.NoSeverity, 24 * time.Hour, 7 * 24 * time.Hour}, // the nearest, low
	} {
		if got := sla.For(tc.sev); got != (Deadlines{tc.ack, tc.resolveWith}) {
			t.Errorf("%s: %+v, want %v / %v", tc.sev, got, tc.ack, tc.resolveWith)
		}
	}
	if sla.FollowUpAfter != 72*time.Hour || sla.CoolDown != 24*time.Hour {
		t.Errorf("follow-up %v, cool-down %v; want 72h, 24h", sla.FollowUpAfter, sla.CoolDown)
	}
}

func TestSLAValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*SLA)
		want   string
	}{
		{"no acknowledge deadline", func(s *SLA) { s.Deadlines[alert.Low].AcknowledgeWithin = 0 }, "low: acknowledge within must be positive"},
		{"resolve before acknowledge", func(s *SLA) { s.Deadlines[alert.High].ResolveWithin = time.Minute }, "high: acknowledge within"},
		{"critical slower than high", func(s *SLA) { s.Deadlines[alert.Critical].AcknowledgeWithin = 2 * time.Hour }, "critical: deadlines must be no longer than high's"},
		{"no follow-up delay", func(s *SLA) { s.FollowUpAfter = 0 }, "follow-up delay"},
		{"negative cool-down", func(s *SLA) { s.CoolDown = -time.Second }, "cool-down"},
	} {
		s := DefaultSLA()
		tc.change(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	s := DefaultSLA()
	s.CoolDown = 0 // no cool-down is a choice
	if err := s.Validate(); err != nil {
		t.Errorf("no cool-down: %v", err)
	}
}

func TestMatchValidate(t *testing.T) {
	good := match("e1", alert.High, 0)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]Match{
		"no customer": with(good, func(m *Match) { m.CustomerID = "" }),
		"no rule":     with(good, func(m *Match) { m.Rule = "" }),
		"no severity": with(good, func(m *Match) { m.Severity = alert.NoSeverity }),
		"too severe":  with(good, func(m *Match) { m.Severity = alert.Critical + 1 }),
		"no event id": with(good, func(m *Match) { m.EventID = "" }),
		"no time":     with(good, func(m *Match) { m.At = time.Time{} }),
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestDecide(t *testing.T) {
	escalatedToHigh := func() *Case { // a medium case that ended high
		c := opened(alert.Medium)
		must(c.Escalate(at(5*time.Hour), sla))
		must(c.Resolve("ana", resolution(), at(6*time.Hour), sla))
		return c
	}
	twoEvents := func() *Case { return Decide(opened(alert.High), match("e2", alert.High, time.Minute), sla).Case }
	reopened := func() *Case {
		c := resolved(alert.Medium)
		must(c.Reopen("bo", "customer called again", at(3*time.Hour), sla))
		return c
	}
	for _, tc := range []struct {
		name      string
		current   func() *Case // nil: no case yet
		m         Match
		verdict   Verdict
		inhibited bool
		check     func(t *testing.T, c *Case)
	}{
		{"no case: a new one", nil, match("e1", alert.High, 0), NewCase, false, func(t *testing.T, c *Case) {
			want := &Case{
				CustomerID: "c1", State: Open, Severity: alert.High, Rule: "complaint", MatchedRules: []string{"complaint"},
				Summary: "complaint from a gold customer", Labels: map[string]string{"team": "support"}, Tier: "gold", ValueLevel: "high",
				EventCount: 1, FirstEventID: "e1", LatestEventID: "e1", OpenedAt: t0, UpdatedAt: t0,
				AcknowledgeBy: at(time.Hour), ResolveBy: at(24 * time.Hour), OpeningExperience: 30,
				History: []Change{{Type: ChangeOpened, Actor: "complaint", EventID: "e1", At: t0}},
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("case\n %+v, want\n %+v", c, want)
			}
		}},
		{"attaches to the open case", func() *Case { return opened(alert.Medium) },
			with(match("e2", alert.Medium, 10*time.Minute), func(m *Match) {
				m.Rule, m.Summary, m.Labels = "detractor", "another summary", map[string]string{"team": "sales", "channel": "web"}
			}), Attach, false, func(t *testing.T, c *Case) {
				if c.ID != "case-1" || c.EventCount != 2 || c.FirstEventID != "e1" || c.LatestEventID != "e2" || !c.UpdatedAt.Equal(at(10*time.Minute)) {
					t.Errorf("case %+v", c)
				}
				if !slices.Equal(c.MatchedRules, []string{"complaint", "detractor"}) || c.Rule != "complaint" || c.Summary != "complaint from a gold customer" {
					t.Errorf("rule %q, matched %v, summary %q; want the opening rule and summary kept", c.Rule, c.MatchedRules, c.Summary)
				}
				if !reflect.DeepEqual(c.Labels, map[string]string{"team": "support", "channel": "web"}) {
					t.Errorf("labels %v: want new keys added, set keys kept", c.Labels)
				}
				if c.Severity != alert.Medium || !c.AcknowledgeBy.Equal(at(4*time.Hour)) || !c.ResolveBy.Equal(at(72*time.Hour)) {
					t.Errorf("severity %s, deadlines %v %v: want unchanged", c.Severity, c.AcknowledgeBy, c.ResolveBy)
				}
				if ch := last(c); ch != (Change{Type: ChangeUpdated, Actor: "detractor", EventID: "e2", At: at(10 * time.Minute)}) {
					t.Errorf("change %+v", ch)
				}
			}},
		{"attaches to an acknowledged case", func() *Case { return acknowledged(alert.Medium) }, match("e2", alert.Medium, time.Hour), Attach, false,
			func(t *testing.T, c *Case) {
				if c.State != Acknowledged || c.AcknowledgedBy != "ana" || c.EventCount != 2 {
					t.Errorf("case %+v", c)
				}
			}},
		{"the same rule is matched once", func() *Case { return opened(alert.Medium) }, match("e2", alert.Medium, time.Minute), Attach, false,
			func(t *testing.T, c *Case) {
				if !slices.Equal(c.MatchedRules, []string{"complaint"}) {
					t.Errorf("matched rules %v", c.MatchedRules)
				}
			}},
		{"a higher severity raises the case and its deadlines from the match", func() *Case { return opened(alert.Low) },
			match("e2", alert.Critical, time.Hour), Attach, false, func(t *testing.T, c *Case) {
				if c.Severity != alert.Critical || !c.AcknowledgeBy.Equal(at(time.Hour+15*time.Minute)) || !c.ResolveBy.Equal(at(5*time.Hour)) {
					t.Errorf("severity %s, deadlines %v %v", c.Severity, c.AcknowledgeBy, c.ResolveBy)
				}
				if n := last(c).Note; n != "severity low → critical" {
					t.Errorf("note %q", n)
				}
			}},
		{"a rise never extends a deadline", func() *Case { return opened(alert.High) }, // acknowledge by 1h, resolve by 24h
			match("e2", alert.Critical, 50*time.Minute), Attach, false, func(t *testing.T, c *Case) {
				if !c.AcknowledgeBy.Equal(at(time.Hour)) || !c.ResolveBy.Equal(at(4*time.Hour+50*time.Minute)) {
					t.Errorf("deadlines %v %v; want 1h kept, resolve tightened to 4h50m", c.AcknowledgeBy, c.ResolveBy)
				}
			}},
		{"a rise on an acknowledged case tightens only resolve", func() *Case { return acknowledged(alert.Low) },
			match("e2", alert.Critical, time.Hour), Attach, false, func(t *testing.T, c *Case) {
				if c.State != Acknowledged || !c.AcknowledgeBy.Equal(at(24*time.Hour)) || !c.ResolveBy.Equal(at(5*time.Hour)) {
					t.Errorf("state %s, deadlines %v %v", c.State, c.AcknowledgeBy, c.ResolveBy)
				}
			}},
		{"a lower severity never lowers the case: inhibited", func() *Case { return opened(alert.Critical) },
			match("e2", alert.Low, time.Minute), Attach, true, func(t *testing.T, c *Case) {
				if c.Severity != alert.Critical || c.EventCount != 2 || !c.AcknowledgeBy.Equal(at(15*time.Minute)) {
					t.Errorf("severity %s, count %d, acknowledge by %v", c.Severity, c.EventCount, c.AcknowledgeBy)
				}
			}},
		{"below a high case is inhibited too", func() *Case { return opened(alert.High) }, match("e2", alert.Medium, time.Minute), Attach, true, nil},
		{"the same severity is announced", func() *Case { return opened(alert.Critical) }, match("e2", alert.Critical, time.Minute), Attach, false, nil},
		{"within the cool-down: suppressed", func() *Case { return resolved(alert.Medium) },
			match("e2", alert.Medium, 2*time.Hour+23*time.Hour), Suppressed, false, nil},
		{"lower within the cool-down: suppressed", func() *Case { return resolved(alert.Medium) }, match("e2", alert.Low, 3*time.Hour), Suppressed, false, nil},
		{"a late event from before the resolution: suppressed", func() *Case { return resolved(alert.Medium) },
			match("e2", alert.Medium, time.Hour), Suppressed, false, nil},
		{"higher within the cool-down: a new case", func() *Case { return resolved(alert.Medium) },
			match("e2", alert.High, 3*time.Hour), NewCase, false, func(t *testing.T, c *Case) {
				if c.ID != "" || c.FirstEventID != "e2" || c.EventCount != 1 || c.Severity != alert.High || !c.AcknowledgeBy.Equal(at(4*time.Hour)) {
					t.Errorf("case %+v", c)
				}
			}},
		{"escalation counts in the resolved case's severity", escalatedToHigh, match("e2", alert.High, 7*time.Hour), Suppressed, false, nil},
		{"at the end of the cool-down: a new case", func() *Case { return resolved(alert.Medium) },
			match("e2", alert.Low, 26*time.Hour), NewCase, false, func(t *testing.T, c *Case) {
				if c.Severity != alert.Low || !c.ResolveBy.Equal(at(26*time.Hour+7*24*time.Hour)) {
					t.Errorf("case %+v", c)
				}
			}},
		{"a reopened case attaches", reopened, match("e2", alert.Medium, 4*time.Hour), Attach, false, nil},
		{"duplicate of the latest event", func() *Case { return opened(alert.Medium) }, match("e1", alert.Critical, time.Minute), Duplicate, false, nil},
		{"duplicate of an earlier event", twoEvents, match("e1", alert.High, 2*time.Minute), Duplicate, false, nil},
		{"duplicate on a resolved case, not suppressed", func() *Case { return resolved(alert.Medium) }, match("e1", alert.Critical, 3*time.Hour), Duplicate, false, nil},
	} {
		var current, before *Case
		if tc.current != nil {
			current = tc.current()
			before = current.Clone()
		}
		d := Decide(current, tc.m, sla)
		if d.Verdict != tc.verdict || d.Inhibited != tc.inhibited {
			t.Errorf("%s: %s inhibited=%v (%s), want %s inhibited=%v", tc.name, d.Verdict, d.Inhibited, d.Reason, tc.verdict, tc.inhibited)
			continue
		}
		if !reflect.DeepEqual(current, before) {
			t.Errorf("%s: Decide changed the current case", tc.name)
		}
		switch tc.verdict {
		case NewCase, Attach:
			if d.Case == nil || d.Case == current || last(d.Case).EventID != tc.m.EventID {
				t.Errorf("%s: case %+v: want a new value whose last change is %s", tc.name, d.Case, tc.m.EventID)
				continue
			}
		default:
			if d.Case != nil || d.Reason == "" {
				t.Errorf("%s: case %v, reason %q; want none, and a reason", tc.name, d.Case, d.Reason)
			}
		}
		if d.Inhibited && d.Reason == "" {
			t.Errorf("%s: inhibited without a reason", tc.name)
		}
		if d.Case != nil && last(d.Case).Inhibited != tc.inhibited {
			t.Errorf("%s: the change's Inhibited is %v, want %v", tc.name, last(d.Case).Inhibited, tc.inhibited)
		}
		if tc.check != nil {
			tc.check(t, d.Case)
		}
	}
}

func TestNewCaseDeadlinesFromTheSLA(t *testing.T) {
	fast := DefaultSLA()
	fast.Deadlines[alert.Critical] = Deadlines{time.Minute, time.Hour}
	for _, tc := range []struct {
		sla          SLA
		sev          alert.Severity
		ack, resolve time.Duration
	}{
		{sla, alert.Critical, 15 * time.Minute, 4 * time.Hour},
		{sla, alert.High, time.Hour, 24 * time.Hour},
		{sla, alert.Medium, 4 * time.Hour, 72 * time.Hour},
		{sla, alert.Low, 24 * time.Hour, 7 * 24 * time.Hour},
		{fast, alert.Critical, time.Minute, time.Hour},
	} {
		c := Decide(nil, match("e1", tc.sev, 30*time.Minute), tc.sla).Case
		if !c.AcknowledgeBy.Equal(at(30*time.Minute+tc.ack)) || !c.ResolveBy.Equal(at(30*time.Minute+tc.resolve)) {
			t.Errorf("%s: deadlines %v %v, want +%v +%v after the match", tc.sev, c.AcknowledgeBy, c.ResolveBy, tc.ack, tc.resolve)
		}
	}
}

func TestCloneSharesNothingThatChanges(t *testing.T) {
	c := opened(alert.Medium)
	d := c.Clone()
	d.MatchedRules[0], d.Labels["team"] = "x", "x"
	d.History[0].Actor = "x"
	must(d.Acknowledge("ana", t0))
	if c.MatchedRules[0] != "complaint" || c.Labels["team"] != "support" || c.History[0].Actor != "complaint" || len(c.History) != 1 || c.State != Open {
		t.Errorf("the original changed: %+v", c)
	}
}

func TestParseDeadlines(t *testing.T) {
	base := DefaultSLA()
	for _, tc := range []struct {
		spec string
		want map[alert.Severity]Deadlines // the changed ones
		err  string
	}{
		{"", nil, ""},
		{"critical=5m/1h", map[alert.Severity]Deadlines{alert.Critical: {5 * time.Minute, time.Hour}}, ""},
		{" high = 30m / 12h , low=2d/8d", nil, "time: unknown unit"},
		{"high=30m/12h, low=48h/192h", map[alert.Severity]Deadlines{alert.High: {30 * time.Minute, 12 * time.Hour}, alert.Low: {48 * time.Hour, 192 * time.Hour}}, ""},
		{"urgent=1m/1h", nil, `severity "urgent"`},
		{"critical=5m", nil, "want severity=acknowledge/resolve"},
		{"critical=soon/1h", nil, "acknowledge within"},
		{"critical=1m/later", nil, "resolve within"},
	} {
		got, err := ParseDeadlines(tc.spec, base)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		for sev := alert.Low; sev <= alert.Critical; sev++ {
			want, changed := tc.want[sev]
			if !changed {
				want = base.Deadlines[sev]
			}
			if got.Deadlines[sev] != want {
				t.Errorf("%q: %s deadlines %v, want %v", tc.spec, sev, got.Deadlines[sev], want)
			}
		}
		if got.FollowUpAfter != base.FollowUpAfter || got.CoolDown != base.CoolDown {
			t.Errorf("%q: changed the follow-up or cool-down", tc.spec)
		}
	}
}

func TestHistoryKeepsABoundedNumberOfUpdates(t *testing.T) {
	c := opened(alert.Medium)
	for i := range MaxRecordedUpdates {
		d := Decide(c, match(fmt.Sprint("u", i), alert.Medium, time.Duration(i)*time.Second), sla)
		if d.Verdict != Attach || d.Unrecorded {
			t.Fatalf("update %d: %s unrecorded=%v", i, d.Verdict, d.Unrecorded)
		}
		c = d.Case
	}
	d := Decide(c, match("more", alert.Low, time.Hour), sla)
	if d.Verdict != Attach || !d.Unrecorded || len(d.Case.History) != len(c.History) ||
		d.Case.EventCount != c.EventCount+1 || d.Case.LatestEventID != "more" {
		t.Errorf("past the bound: %s unrecorded=%v, history %d (was %d), count %d", d.Verdict, d.Unrecorded, len(d.Case.History), len(c.History), d.Case.EventCount)
	}
	raised := Decide(d.Case, match("worse", alert.Critical, 2*time.Hour), sla)
	if raised.Unrecorded || last(raised.Case).EventID != "worse" || raised.Case.Severity != alert.Critical {
		t.Errorf("a severity rise past the bound must be kept: unrecorded=%v, last %+v", raised.Unrecorded, last(raised.Case))
	}
}
