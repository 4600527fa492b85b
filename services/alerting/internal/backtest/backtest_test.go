package backtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/pipeline"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

var (
	t0  = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sla = cases.DefaultSLA() // high: resolve within 24h; critical 4h; low 7 days; cool-down 24h
)

const hour = time.Hour

// hit is a rule matching at a severity.
type hit struct {
	rule string
	sev  alert.Severity
}

// event is customer's event id at t0+after matching hits, built as
// pipeline.Read builds it: Match is the most severe hit, the first of equals.
func event(customer, id string, after time.Duration, hits ...hit) pipeline.Event {
	ev := pipeline.Event{Tenant: "t", CustomerID: customer, EventID: id, At: t0.Add(after), Feedback: true}
	for _, h := range hits {
		ev.Matches = append(ev.Matches, rules.Match{Rule: h.rule, Severity: h.sev, Summary: h.rule})
	}
	if len(hits) == 0 {
		return ev
	}
	best := ev.Matches[0]
	for _, m := range ev.Matches[1:] {
		if m.Severity > best.Severity {
			best = m
		}
	}
	ev.Match = &cases.Match{CustomerID: customer, Rule: best.Rule, Severity: best.Severity, Summary: best.Summary, EventID: id, At: ev.At}
	return ev
}

var (
	detractorHigh = hit{"detractor", alert.High}
	detractorLow  = hit{"detractor", alert.Low}
	complaintHigh = hit{"complaint", alert.High}
	complaintCrit = hit{"complaint", alert.Critical}
	complaintLow  = hit{"complaint", alert.Low}
)

// rule is a rule's expected counts: matches, cases, distinct customers.
type rule [3]int64

func TestSimulator(t *testing.T) {
	for _, tc := range []struct {
		name      string
		events    []pipeline.Event
		detractor rule
		complaint rule
		total     int64
	}{
		{"nothing replayed", nil, rule{}, rule{}, 0},
		{"events without a match count as replayed only", []pipeline.Event{
			event("ann", "e1", 0), event("bob", "e2", 0),
		}, rule{}, rule{}, 0},
		{"one match opens one case", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
		}, rule{1, 1, 1}, rule{}, 1},
		{"a later match within the deadline attaches", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 23*hour, detractorHigh),
		}, rule{2, 1, 1}, rule{}, 1},
		{"an event matching two rules counts for both, opens one case for the most severe", []pipeline.Event{
			event("ann", "e1", 0, detractorLow, complaintHigh),
		}, rule{1, 0, 0}, rule{1, 1, 1}, 1},
		{"a less severe rule's later match is inhibited, not a case", []pipeline.Event{
			event("ann", "e1", 0, complaintHigh),
			event("ann", "e2", hour, detractorLow),
		}, rule{1, 0, 0}, rule{1, 1, 1}, 1},
		{"customers have a case each", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("bob", "e2", 0, detractorHigh),
			event("cat", "e3", 0, complaintLow),
		}, rule{2, 2, 2}, rule{1, 1, 1}, 3},
		{"the case is resolved at its deadline: a match within the cool-down is suppressed", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 25*hour, detractorHigh), // resolved at 24h, cool-down to 48h
		}, rule{2, 1, 1}, rule{}, 1},
		{"after the cool-down a match opens a new case", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 49*hour, detractorHigh),
		}, rule{2, 2, 1}, rule{}, 2},
		{"within the cool-down a more severe match opens a new case", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 25*hour, complaintCrit),
		}, rule{1, 1, 1}, rule{1, 1, 1}, 2},
		{"a severity raise brings the deadline, and so the resolution, forward", []pipeline.Event{
			event("ann", "e1", 0, complaintLow),       // low: resolve by 7 days
			event("ann", "e2", hour, complaintCrit),   // critical: resolve by 1h+4h
			event("ann", "e3", 6*hour, complaintCrit), // resolved at 5h: suppressed
			event("ann", "e4", 30*hour, complaintLow), // cool-down over at 29h: new case
		}, rule{}, rule{4, 2, 1}, 2},
		{"an event delivered twice counts once", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e1", 0, detractorHigh, complaintHigh), // its tier change, same event id
		}, rule{1, 1, 1}, rule{}, 1},
		{"an event of an earlier case is skipped within the guard", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 25*hour, complaintCrit), // a new case
			event("ann", "e1", 0, detractorHigh),       // delivered again 25h after it was applied
		}, rule{1, 1, 1}, rule{1, 1, 1}, 2},
		{"past the guard, an event delivered again joins the open case", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 49*hour, detractorHigh), // a new case
			event("ann", "e1", 0, detractorHigh),       // delivered again 49h after: the store forgot it
		}, rule{3, 2, 1}, rule{}, 2},
		{"a suppressed event is not applied: its second message is decided again", []pipeline.Event{
			event("ann", "e1", 0, detractorHigh),
			event("ann", "e2", 25*hour, detractorHigh), // suppressed
			event("ann", "e2", 25*hour, complaintCrit), // its tier change, more severe: a new case
		}, rule{2, 1, 1}, rule{1, 1, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New([]string{"detractor", "complaint"}, sla)
			for _, ev := range tc.events {
				s.Add(ev)
			}
			want := Report{Events: int64(len(tc.events)), TotalCases: tc.total, Rules: []RuleReport{
				{"detractor", tc.detractor[0], tc.detractor[1], tc.detractor[2]},
				{"complaint", tc.complaint[0], tc.complaint[1], tc.complaint[2]},
			}}
			if got := s.Report(); !reflect.DeepEqual(got, want) {
				t.Errorf("report\n %+v, want\n %+v", got, want)
			}
		})
	}
}
