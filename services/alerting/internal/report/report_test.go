package report

import (
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// story opens a case of severity sev at t0 and plays steps on it.
func story(t *testing.T, sev alert.Severity, tier string, steps ...func(*cases.Case) error) *cases.Case {
	t.Helper()
	d := cases.Decide(nil, cases.Match{CustomerID: "c", Rule: "r", Severity: sev, Summary: "s", EventID: "e1", At: t0, Tier: tier, ValueLevel: "high", Experience: 20}, cases.DefaultSLA())
	c := d.Case
	for i, step := range steps {
		if err := step(c); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	return c
}

func ack(after time.Duration) func(*cases.Case) error {
	return func(c *cases.Case) error { return c.Acknowledge("ops", t0.Add(after)) }
}

func resolve(after time.Duration) func(*cases.Case) error {
	return func(c *cases.Case) error {
		return c.Resolve("ops", cases.Resolution{Actions: []cases.Action{{Type: cases.Apology}}, RootCause: "late courier"}, t0.Add(after), cases.DefaultSLA())
	}
}

func escalate(after time.Duration) func(*cases.Case) error {
	return func(c *cases.Case) error { return c.Escalate(t0.Add(after), cases.DefaultSLA()) }
}

func outcome(after time.Duration, experience float64) func(*cases.Case) error {
	return func(c *cases.Case) error { return c.MeasureOutcome("next", experience, false, t0.Add(after)) }
}

func TestOf(t *testing.T) {
	m := time.Minute
	cs := []*cases.Case{
		// Critical SLA: acknowledge within 15 minutes, resolve within 4 hours.
		story(t, alert.Critical, "champion", ack(5*m), resolve(60*m), outcome(3*24*60*m, 80)),                   // in time, recovered
		story(t, alert.Critical, "champion", escalate(16*m), ack(20*m), resolve(300*m), outcome(4*24*60*m, 10)), // late twice, not recovered
		story(t, alert.Critical, "at-risk", ack(10*m)),                                                          // still acknowledged
		story(t, alert.Critical, "at-risk"),                                                                     // still open
		story(t, alert.High, "at-risk", resolve(30*m)),                                                          // resolved without acknowledgement
	}
	got := Of(cs)
	want := Summary{
		Opened: 5, Acknowledged: 3, Resolved: 3, Escalated: 1,
		AcknowledgeP50: 10 * m, AcknowledgeP90: 20 * m,
		ResolveP50: 60 * m, ResolveP90: 300 * m,
		AcknowledgeSLAMet: 1.0 / 3, ResolveSLAMet: 2.0 / 3,
		OutcomesMeasured: 2, RecoveryRate: 0.5,
	}
	if got != want {
		t.Errorf("summary\n got %+v\nwant %+v", got, want)
	}
	if empty := Of(nil); empty != (Summary{}) {
		t.Errorf("no cases: %+v", empty)
	}

	bySeverity := BySeverity(cs)
	if len(bySeverity) != 2 || bySeverity[alert.Critical].Opened != 4 || bySeverity[alert.High].Resolved != 1 {
		t.Errorf("by severity %+v", bySeverity)
	}
	byTier := ByTier(cs)
	if len(byTier) != 2 || byTier["champion"].RecoveryRate != 0.5 || byTier["at-risk"].Opened != 3 {
		t.Errorf("by tier %+v", byTier)
	}
}

func TestPercentile(t *testing.T) {
	ds := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{nil, 50, 0},
		{ds(7), 90, 7},
		{ds(4, 1, 3, 2), 50, 2},
		{ds(4, 1, 3, 2), 90, 4},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("p%d of %v = %v, want %v", tc.p, tc.in, got, tc.want)
		}
	}
}
