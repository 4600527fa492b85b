package schedule_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/schedule"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func opened(sev alert.Severity) *cases.Case {
	m := cases.Match{CustomerID: "ann", Rule: "complaint", Severity: sev, EventID: "e1", At: t0}
	return cases.Decide(nil, m, cases.DefaultSLA()).Case
}

func TestAdvance(t *testing.T) {
	sla := cases.DefaultSLA()
	resolved := func() *cases.Case {
		c := opened(alert.High)
		if err := c.Resolve("ops", cases.Resolution{Actions: []cases.Action{{Type: cases.Apology}}, RootCause: "late"}, t0.Add(time.Hour), sla); err != nil {
			t.Fatal(err)
		}
		return c
	}
	acknowledged := func() *cases.Case {
		c := opened(alert.High)
		if err := c.Acknowledge("ops", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	followedUp := func() *cases.Case {
		c := resolved()
		if err := c.FollowUpDue(c.FollowUpAt); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		c    func() *cases.Case
		at   time.Duration // after t0
		want cases.ChangeType
	}{
		{"open, before its deadline", func() *cases.Case { return opened(alert.High) }, 59 * time.Minute, cases.NoChange},
		{"open, at its deadline", func() *cases.Case { return opened(alert.High) }, time.Hour, cases.NoChange},
		{"open, past its deadline", func() *cases.Case { return opened(alert.High) }, time.Hour + time.Second, cases.ChangeEscalated},
		{"acknowledged, past the deadline", acknowledged, 2 * time.Hour, cases.NoChange},
		{"resolved, before the follow-up", resolved, time.Hour + sla.FollowUpAfter - time.Second, cases.NoChange},
		{"resolved, follow-up due", resolved, time.Hour + sla.FollowUpAfter, cases.ChangeFollowUpDue},
		{"follow-up already announced", followedUp, 30 * 24 * time.Hour, cases.NoChange},
	} {
		c := tc.c()
		before := c.Clone()
		next, changed := schedule.Advance(c, t0.Add(tc.at), sla)
		got := cases.NoChange
		if changed {
			got = next.History[len(next.History)-1].Type
		}
		if got != tc.want || changed != (tc.want != cases.NoChange) {
			t.Errorf("%s: change %s (changed %v), want %s", tc.name, got, changed, tc.want)
		}
		if len(c.History) != len(before.History) || c.State != before.State || c.Severity != before.Severity {
			t.Errorf("%s: Advance modified its input", tc.name)
		}
	}
	// An escalation raises the severity and the level.
	next, _ := schedule.Advance(opened(alert.High), t0.Add(2*time.Hour), sla)
	if next.Severity != alert.Critical || next.EscalationLevel != 1 {
		t.Errorf("escalated to %s level %d, want critical level 1", next.Severity, next.EscalationLevel)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// changes returns the types of the RecoveryCaseChanged on the stream, in order.
func changes(t *testing.T, s *testkit.Stack) []string {
	t.Helper()
	var out []string
	for _, m := range testkit.StreamMessages(t, s.JS, bus.RecoveryStream.Name) {
		c := new(eventsv1.RecoveryCaseChanged)
		if err := proto.Unmarshal(m.Data, c); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(m.Subject, "recovery."))
	}
	return out
}

func TestTickAnnouncesEscalatesAndFollowsUp(t *testing.T) {
	ctx := context.Background()
	s := testkit.StartStack(t, "k:t")
	cfg := bus.ConfigFromEnv(s.Env)
	if _, err := bus.EnsureStream(ctx, s.JS, cfg, bus.RecoveryStream); err != nil {
		t.Fatal(err)
	}
	st := store.New(s.Redis.Client, 48*time.Hour)
	clk := &clock{t: t0}
	log := slog.New(slog.DiscardHandler)
	ann := announce.New(st, bus.NewPublisher(s.JS, "test"), clk.now, log)
	sla := cases.DefaultSLA()
	cfgS := schedule.Config{Interval: time.Hour, Batch: 2, PerTick: 100}
	a := schedule.New(cfgS, st, ann, sla, clk.now, "a", log)
	b := schedule.New(cfgS, st, ann, sla, clk.now, "b", log)

	// A case committed but never announced (its writer died): the next
	// tick announces it, once.
	l, err := st.Load(ctx, "t", []string{"ann"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := opened(alert.High)
	if done, err := st.Commit(ctx, "t", []store.Write{{Loaded: &l[0], New: c, Events: []string{"e1"}, Now: t0}}); err != nil || !done[0] {
		t.Fatalf("commit: %v %v", done, err)
	}
	if n, err := a.Tick(ctx); n != 0 || err != nil {
		t.Fatalf("tick within the grace: %d, %v; want nothing due", n, err)
	}
	clk.set(t0.Add(store.AnnounceGrace + time.Second))
	if n, err := a.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("tick after the grace: %d, %v; want the case announced", n, err)
	}
	if got := changes(t, s); strings.Join(got, ",") != "opened.t" {
		t.Fatalf("changes %v, want the opening", got)
	}

	// Past the acknowledge deadline the case escalates — by one replica:
	// the other finds the tenant claimed.
	clk.set(c.AcknowledgeBy.Add(time.Minute))
	na, erra := a.Tick(ctx)
	nb, errb := b.Tick(ctx)
	if erra != nil || errb != nil || na+nb != 1 {
		t.Fatalf("ticks of two replicas: %d %v, %d %v; want one escalation", na, erra, nb, errb)
	}
	got, err := st.Get(ctx, "t", c.ID)
	if err != nil || got.Case.EscalationLevel != 1 || got.Case.Severity != alert.Critical || got.Announced != len(got.Case.History) {
		t.Fatalf("after escalation: %+v announced %d, %v", got.Case, got.Announced, err)
	}

	// Resolved through the announcer, its follow-up is announced when due.
	clk.set(c.AcknowledgeBy.Add(time.Hour))
	resolved, err := ann.Change(ctx, "t", c.ID, func(c *cases.Case, now time.Time) error {
		return c.Resolve("ops", cases.Resolution{Actions: []cases.Action{{Type: cases.Fix}}, RootCause: "bug"}, now, sla)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Redis.Client.Del(ctx, "fl:{t}:alert:claim") // the next tick may come from either replica
	clk.set(resolved.FollowUpAt)
	if n, err := b.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("follow-up tick: %d, %v", n, err)
	}
	want := "opened.t,escalated.t,resolved.t,follow_up_due.t"
	if got := changes(t, s); strings.Join(got, ",") != want {
		t.Errorf("changes %v, want %s", got, want)
	}
	if due, _ := st.DueCases(ctx, "t", t0.Add(365*24*time.Hour), 10); len(due) != 0 {
		t.Errorf("still due after the follow-up: %v", due)
	}
}
