package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	st *store.Store
	rd *testkit.Redis
}

func setup(t *testing.T) fixture {
	rd := testkit.StartRedis(t)
	// Guards are written at the events' times here, days apart: keep them
	// longer than the test's story.
	return fixture{st: store.New(rd.Client, 30*24*time.Hour), rd: rd}
}

func match(customer, event string, sev alert.Severity, at time.Time) cases.Match {
	return cases.Match{CustomerID: customer, Rule: "complaint", Severity: sev, Summary: "s", EventID: event, At: at, Tier: "loyal", ValueLevel: "high", Experience: 20}
}

func (f fixture) load(t *testing.T, customer string, events ...string) store.Loaded {
	t.Helper()
	l, err := f.st.Load(context.Background(), "t", []string{customer}, [][]string{events})
	if err != nil {
		t.Fatal(err)
	}
	return l[0]
}

// decide loads the customer, decides m and commits; it reports whether the
// write was committed and returns the case.
func (f fixture) decide(t *testing.T, m cases.Match) (*cases.Case, bool) {
	t.Helper()
	l := f.load(t, m.CustomerID, m.EventID)
	if l.Seen[m.EventID] {
		return l.Case, false
	}
	d := cases.Decide(l.Case, m, cases.DefaultSLA())
	if d.Case == nil {
		t.Fatalf("decision %+v has no case", d)
	}
	done, err := f.st.Commit(context.Background(), "t", []store.Write{{Loaded: &l, New: d.Case, Events: []string{m.EventID}, Now: m.At}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Case, done[0]
}

func TestOpenAttachResolveAndIndexes(t *testing.T) {
	f := setup(t)
	ctx, rdb := context.Background(), f.rd.Client
	c, ok := f.decide(t, match("ann", "e1", alert.High, t0))
	if !ok || c.ID != store.CaseID("ann", "e1") {
		t.Fatalf("open: committed %v, id %q", ok, c.ID)
	}
	c, ok = f.decide(t, match("ann", "e2", alert.Critical, t0.Add(time.Minute)))
	if !ok || c.EventCount != 2 || c.Severity != alert.Critical {
		t.Fatalf("attach: committed %v, %+v", ok, c)
	}
	if _, ok := f.decide(t, match("ann", "e2", alert.Critical, t0.Add(time.Minute))); ok {
		t.Error("a redelivered event was applied again")
	}
	l := f.load(t, "ann")
	if l.Case == nil || l.Case.EventCount != 2 || l.Case.ID != c.ID {
		t.Fatalf("loaded %+v", l.Case)
	}
	// Until its changes are announced the case is due within the grace,
	// then at its acknowledge deadline.
	if due, want := rdb.ZScore(ctx, "fl:{t}:alert:due", c.ID).Val(), t0.Add(time.Minute+store.AnnounceGrace); due != float64(want.UnixMilli()) {
		t.Errorf("due %v before announcing, want %v", due, want.UnixMilli())
	}
	if err := f.st.Announced(ctx, "t", []*store.Loaded{&l}); err != nil || l.Announced != 2 {
		t.Fatalf("announced %d: %v", l.Announced, err)
	}
	if due := rdb.ZScore(ctx, "fl:{t}:alert:due", c.ID).Val(); due != float64(c.AcknowledgeBy.UnixMilli()) {
		t.Errorf("due %v, want the acknowledge deadline %v", due, c.AcknowledgeBy.UnixMilli())
	}
	if again := f.load(t, "ann"); again.Announced != 2 {
		t.Errorf("announced as read: %d, want 2", again.Announced)
	}
	if got := rdb.ZRange(ctx, "fl:{t}:alert:state:open", 0, -1).Val(); !slices.Equal(got, []string{c.ID}) {
		t.Errorf("open cases %v", got)
	}

	// Resolve it: the state index moves, the follow-up is due, the
	// customer awaits the outcome.
	stale := l
	resolved := l.Case.Clone()
	if err := resolved.Resolve("ops", cases.Resolution{Actions: []cases.Action{{Type: cases.Apology}}, RootCause: "late"}, t0.Add(time.Hour), cases.DefaultSLA()); err != nil {
		t.Fatal(err)
	}
	if done, err := f.st.Commit(ctx, "t", []store.Write{{Loaded: &l, New: resolved, Now: t0.Add(time.Hour)}}); err != nil || !done[0] {
		t.Fatalf("resolve: %v %v", done, err)
	}
	if n := rdb.ZCard(ctx, "fl:{t}:alert:state:open").Val(); n != 0 || rdb.ZScore(ctx, "fl:{t}:alert:state:resolved", c.ID).Err() != nil {
		t.Errorf("state indexes after resolving: open %d", n)
	}
	if err := f.st.Announced(ctx, "t", []*store.Loaded{&l}); err != nil {
		t.Fatal(err)
	}
	if due := rdb.ZScore(ctx, "fl:{t}:alert:due", c.ID).Val(); due != float64(resolved.FollowUpAt.UnixMilli()) {
		t.Errorf("due %v, want the follow-up %v", due, resolved.FollowUpAt.UnixMilli())
	}
	if aw, err := f.st.Awaiting(ctx, "t", []string{"ann", "bob"}); err != nil || !aw["ann"] || aw["bob"] {
		t.Errorf("awaiting an outcome: %v, %v; want ann only", aw, err)
	}
	// A stale writer of the open case is refused, and so is its record of
	// announcing.
	acked := stale.Case.Clone()
	if err := acked.Acknowledge("late-ops", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if done, _ := f.st.Commit(ctx, "t", []store.Write{{Loaded: &stale, New: acked, Now: t0}}); done[0] {
		t.Error("a write of a case that changed since it was read was committed")
	}

	// After the cool-down a new case opens; the first stays listed.
	next, ok := f.decide(t, match("ann", "e3", alert.Medium, t0.Add(3*24*time.Hour)))
	if !ok || next.ID == c.ID {
		t.Fatalf("a new case after the cool-down: %v %+v", ok, next)
	}
	if aw, _ := f.st.Awaiting(ctx, "t", []string{"ann"}); aw["ann"] {
		t.Error("ann still awaits an outcome once a new case opened")
	}
	if ts, err := f.st.Tenants(ctx); err != nil || !slices.Equal(ts, []string{"t"}) {
		t.Errorf("tenants %v, %v", ts, err)
	}
	if got := rdb.ZRevRange(ctx, "fl:{t}:alert:customer:ann", 0, -1).Val(); !slices.Equal(got, []string{next.ID, c.ID}) {
		t.Errorf("ann's cases %v", got)
	}
	// The first case's opening event, redelivered now, is not applied to the new one.
	if _, ok := f.decide(t, match("ann", "e1", alert.High, t0)); ok {
		t.Error("an old case's event was applied to the new case")
	}
	if due, err := f.st.DueCases(ctx, "t", t0.Add(10*24*time.Hour), 10); err != nil || len(due) != 2 {
		t.Errorf("due cases %v, %v", due, err)
	}
}

func TestConcurrentOpeningsOneWins(t *testing.T) {
	f := setup(t)
	a, b := f.load(t, "bob"), f.load(t, "bob")
	ca := cases.Decide(a.Case, match("bob", "x", alert.High, t0), cases.DefaultSLA()).Case
	cb := cases.Decide(b.Case, match("bob", "y", alert.Low, t0), cases.DefaultSLA()).Case
	done, err := f.st.Commit(context.Background(), "t", []store.Write{{Loaded: &a, New: ca, Events: []string{"x"}, Now: t0}})
	if err != nil || !done[0] {
		t.Fatal("the first opening lost", err)
	}
	if done, _ := f.st.Commit(context.Background(), "t", []store.Write{{Loaded: &b, New: cb, Events: []string{"y"}, Now: t0}}); done[0] {
		t.Fatal("two cases opened for one customer at once")
	}
	// Read again and decide again: y attaches to the case x opened.
	c, ok := f.decide(t, match("bob", "y", alert.Low, t0))
	if !ok || c.ID != ca.ID || c.EventCount != 2 {
		t.Errorf("after reading again: %v %+v", ok, c)
	}
}
