package backtest

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

const replayRules = `
rules:
  - name: low-nps
    when: kind == "feedback" && nps >= 0 && nps <= 6
    severity: high
    summary: 'Low NPS from {{.CustomerID}}'
  - name: into-at-risk
    when: tier != previous_tier && tier == "at-risk"
    severity: high
    summary: '{{.CustomerID}} at risk'
`

// stack is a JetStream with the CUSTOMERS stream, and a publisher that
// publishes as segmentation does.
type stack struct {
	js  jetstream.JetStream
	pub *bus.Publisher
	rs  *rules.Rules
}

func startStack(t testing.TB) *stack {
	t.Helper()
	nc, err := nats.Connect(testkit.StartJetStream(t).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := bus.Config{Replicas: 1, Retention: 30 * 24 * time.Hour, DuplicateWindow: 2 * time.Minute}
	if _, err := bus.EnsureStream(context.Background(), js, cfg, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(strings.NewReader(replayRules), "test")
	if err != nil {
		t.Fatal(err)
	}
	return &stack{js: js, pub: bus.NewPublisher(js, "feedloop/segmentation"), rs: rs}
}

// feedback is tenant's customer answering nps, evaluated.
func feedback(tenant, customer, eventID string, nps int32) bus.Outgoing {
	now := timestamppb.Now()
	return bus.Outgoing{
		Subject: bus.Subject(bus.CustomerEvaluated, tenant), ID: tenant + "/" + eventID,
		Msg: &eventsv1.CustomerEvaluated{
			TenantId: tenant, PreviousTier: "loyal",
			Cause: &eventsv1.CustomerEvaluated_Feedback{Feedback: &eventsv1.FeedbackScored{
				Received: &eventsv1.FeedbackReceived{TenantId: tenant, Feedback: &intakev1.Feedback{
					EventId: eventID, CustomerId: customer, Nps: proto.Int32(nps), OccurredAt: now,
				}},
			}},
			Profile: &segmentationv1.CustomerProfile{CustomerId: customer, Tier: "loyal", UpdatedAt: now},
		},
	}
}

// tierChange is the sweep moving tenant's customer into at-risk.
func tierChange(tenant, customer, eventID string) bus.Outgoing {
	return bus.Outgoing{
		Subject: bus.Subject(bus.TierChanged, tenant), ID: tenant + "/tier/" + eventID,
		Msg: &eventsv1.TierChanged{TenantId: tenant, CustomerId: customer, EventId: eventID,
			OldTier: "loyal", NewTier: "at-risk", ChangedAt: timestamppb.Now()},
	}
}

func (s *stack) publish(t testing.TB, outs ...bus.Outgoing) {
	t.Helper()
	_, errs := s.pub.PublishAll(context.Background(), outs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (s *stack) replay(ctx context.Context, tenant string, lookback time.Duration, limit int64) (Report, error) {
	return Replay(ctx, s.js, Query{Tenant: tenant, Rules: s.rs, Lookback: lookback, MaxMessages: limit}, sla)
}

// report is a Report of the replay rules: events, skipped, then matches,
// cases and customers of low-nps and into-at-risk, then the total cases.
func report(events, skipped int64, lowNPS, atRisk rule, total int64) Report {
	return Report{Events: events, Skipped: skipped, TotalCases: total, Rules: []RuleReport{
		{"low-nps", lowNPS[0], lowNPS[1], lowNPS[2]},
		{"into-at-risk", atRisk[0], atRisk[1], atRisk[2]},
	}}
}

func TestReplay(t *testing.T) {
	s := startStack(t)
	s.publish(t,
		feedback("tenant-a", "ann", "f1", 2),
		feedback("tenant-a", "ann", "f2", 4),  // attaches to ann's case
		feedback("tenant-a", "bob", "f3", 10), // no rule
		tierChange("tenant-a", "cat", "s1"),
		feedback("tenant-b", "dan", "f4", 0), // another tenant's
		bus.Outgoing{Subject: bus.Subject(bus.CustomerErased, "tenant-a"), ID: "tenant-a/erase", // not replayed
			Msg: &eventsv1.TierChanged{TenantId: "tenant-a", CustomerId: "eve"}},
	)
	testkit.PublishGarbage(t, s.js, bus.Subject(bus.CustomerEvaluated, "tenant-a"), "feedloop.events.v1.CustomerEvaluated", "tenant-a/garbage")
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		tenant   string
		lookback time.Duration
		limit    int64
		want     Report
		err      error
	}{
		{"the tenant's events, garbage skipped", ctx, "tenant-a", time.Hour, 0,
			report(4, 1, rule{2, 1, 1}, rule{1, 1, 1}, 2), nil},
		{"another tenant's", ctx, "tenant-b", time.Hour, 0, report(1, 0, rule{1, 1, 1}, rule{}, 1), nil},
		{"a tenant without events", ctx, "tenant-c", time.Hour, 0, report(0, 0, rule{}, rule{}, 0), nil},
		{"exactly the limit", ctx, "tenant-a", time.Hour, 5, report(4, 1, rule{2, 1, 1}, rule{1, 1, 1}, 2), nil},
		{"over the limit", ctx, "tenant-a", time.Hour, 4, Report{}, ErrTooManyMessages},
		{"beyond the retention", ctx, "tenant-a", 31 * 24 * time.Hour, 0, Report{}, ErrBeyondRetention},
		{"canceled", canceled, "tenant-a", time.Hour, 0, Report{}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.replay(tc.ctx, tc.tenant, tc.lookback, tc.limit)
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Replay = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	info, err := s.stream(t).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Consumers; n != 0 {
		t.Errorf("%d consumers left on the stream, want none", n)
	}
}

func (s *stack) stream(t testing.TB) jetstream.Stream {
	t.Helper()
	st, err := s.js.Stream(context.Background(), bus.CustomersStream.Name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReplayOnlyTheLookback(t *testing.T) {
	s := startStack(t)
	s.publish(t, feedback("tenant-a", "ann", "old", 2))
	time.Sleep(1500 * time.Millisecond)
	s.publish(t, feedback("tenant-a", "bob", "new", 2))
	got, err := s.replay(context.Background(), "tenant-a", 750*time.Millisecond, 0)
	if want := report(1, 0, rule{1, 1, 1}, rule{}, 1); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Replay = %+v, %v; want only the new event: %+v", got, err, want)
	}
}

func TestReplayEndsWhileTrafficFlows(t *testing.T) {
	s := startStack(t)
	s.publish(t, feedback("tenant-a", "ann", "f0", 2))
	var published atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // keeps publishing the tenant's events until the replay ends
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out := feedback("tenant-a", "bob", "f"+time.Now().Format(time.RFC3339Nano), 9)
			if _, err := s.pub.Publish(context.Background(), out); err != nil {
				t.Error(err)
				return
			}
			published.Add(1)
		}
	}()
	for published.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := s.replay(ctx, "tenant-a", time.Hour, 0)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if got.Events < 51 || got.Events > 1+published.Load() || got.Rules[0].Cases != 1 {
		t.Errorf("Replay = %+v; want the events before it started (at least 51, at most %d), ann's case", got, 1+published.Load())
	}
}

// BenchmarkReplay replays 100,000 evaluated events of 10,000 customers
// (one in twenty a detractor) from an embedded JetStream, one core:
//
//	go test -run '^$' -bench Replay -cpu 1 -benchtime 5x ./internal/backtest
func BenchmarkReplay(b *testing.B) {
	const events, customers = 100_000, 10_000
	s := startStack(b)
	outs := make([]bus.Outgoing, 0, 1000)
	for i := range events {
		nps := int32(9)
		if i%20 == 7 {
			nps = 2
		}
		outs = append(outs, feedback("tenant-a", "c"+strconv.Itoa(i%customers), "e"+strconv.Itoa(i), nps))
		if len(outs) == cap(outs) {
			s.publish(b, outs...)
			outs = outs[:0]
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := s.replay(context.Background(), "tenant-a", time.Hour, 0)
		if err != nil || r.Events != events {
			b.Fatalf("Replay = %+v, %v", r, err)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
