package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

const day = 24 * time.Hour

// weekly returns n weekly purchases of amount by customer, the latest at
// t0.
func weekly(tenant, customer string, n int, amount int64) []bus.Outgoing {
	var outs []bus.Outgoing
	for i := range n {
		outs = append(outs, purchase(tenant, customer, fmt.Sprintf("%s-p%d", customer, i), t0.Add(-time.Duration(i)*7*day), amount, "USD"))
	}
	return outs
}

// waitIdle waits until the segmentation consumers have acknowledged every
// message they were given.
func (h *harness) waitIdle(t testing.TB) {
	t.Helper()
	testkit.WaitIdle(t, h.js, 30*time.Second,
		testkit.Durable{Stream: "SCORED", Name: "segmentation"}, testkit.Durable{Stream: "FEEDBACK", Name: "segmentation-activity"})
}

// TestTierChangedOnceEvenWhenRedelivered makes every publish fail after the
// Redis commit (the CUSTOMERS stream is gone), so the event is redelivered
// and applied as a duplicate; then delivers it again under another message
// id. The change is announced once and the profile counts the event once.
func TestTierChangedOnceEvenWhenRedelivered(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.publish(t, weekly("tenant-a", "ann", 10, 150_00)...)
	evaluated(t, h, 10)
	if tier := h.customer(t, keyA, "ann").GetTier(); tier != "champion" {
		t.Fatalf("tier %s, want champion", tier)
	}
	if err := h.js.DeleteStream(ctx, bus.CustomersStream.Name); err != nil {
		t.Fatal(err)
	}
	detractor := feedback{tenant: "tenant-a", customer: "ann", id: "f1", at: t0.Add(-time.Hour), nps: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, satisfaction: 20, rated: 1}
	h.publish(t, detractor.out())
	// Wait until the event is applied and has been redelivered at least
	// twice: each delivery failed to publish.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cons, err := h.js.Consumer(ctx, "SCORED", "segmentation")
		if err != nil {
			t.Fatal(err)
		}
		info, _ := cons.Info(ctx)
		p := h.customer(t, keyA, "ann")
		if p.GetTier() == "at-risk" && info.NumRedelivered > 0 && info.Delivered.Consumer >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not applied and redelivered: tier %s, %+v", p.GetTier(), info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := bus.EnsureStream(ctx, h.js, h.cfg.Bus, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	again := detractor.out()
	again.ID = "tenant-a/f1-delivered-again"
	h.publish(t, again)
	h.waitIdle(t)

	var changes, evals int
	for _, m := range testkit.StreamMessages(t, h.js, bus.CustomersStream.Name) {
		switch {
		case strings.HasPrefix(m.Subject, bus.TierChanged+"."):
			var c eventsv1.TierChanged
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				t.Fatal(err)
			}
			if c.GetEventId() != "f1" || c.GetOldTier() != "champion" || c.GetNewTier() != "at-risk" {
				t.Errorf("TierChanged = %v", &c)
			}
			changes++
		case strings.HasPrefix(m.Subject, bus.CustomerEvaluated+"."):
			evals++
		}
	}
	if changes != 1 || evals != 1 {
		t.Errorf("after the redeliveries: %d TierChanged, %d CustomerEvaluated; want 1 and 1", changes, evals)
	}
	if p := h.customer(t, keyA, "ann"); p.GetFeedbackCount() != 1 || p.GetDetractors_90D() != 1 {
		t.Errorf("feedback %d, detractors %d; want 1 and 1", p.GetFeedbackCount(), p.GetDetractors_90D())
	}
}

// TestTierChangesSurviveFailedPublishes changes a customer's tier twice
// while every publish fails: both changes are announced once each when the
// stream is back.
func TestTierChangesSurviveFailedPublishes(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.publish(t, weekly("tenant-a", "ann", 10, 150_00)...)
	evaluated(t, h, 10)
	if err := h.js.DeleteStream(ctx, bus.CustomersStream.Name); err != nil {
		t.Fatal(err)
	}
	h.publish(t, feedback{tenant: "tenant-a", customer: "ann", id: "f1", at: t0.Add(-2 * time.Hour), nps: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, satisfaction: 20, rated: 1}.out())
	h.waitFor(t, "ann", "at-risk", func(p *segmentationv1.CustomerProfile) bool { return p.GetTier() == "at-risk" })
	h.publish(t, feedback{tenant: "tenant-a", customer: "ann", id: "f2", at: t0.Add(-time.Hour), nps: scoringv1.NpsClass_NPS_CLASS_PROMOTER, satisfaction: 90, rated: 2}.out())
	h.waitFor(t, "ann", "champion again", func(p *segmentationv1.CustomerProfile) bool { return p.GetTier() == "champion" })
	if _, err := bus.EnsureStream(ctx, h.js, h.cfg.Bus, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	h.waitIdle(t)
	var got []string
	for _, c := range tierChanges(t, h, 2) {
		got = append(got, c.GetEventId()+":"+c.GetOldTier()+"→"+c.GetNewTier())
	}
	slices.Sort(got)
	if want := []string{"f1:champion→at-risk", "f2:at-risk→champion"}; !slices.Equal(got, want) {
		t.Errorf("TierChanged %v, want %v", got, want)
	}
}

// randomEvents are purchases (two currencies) and scored feedback for a
// few customers over the last 400 days.
func randomEvents(rng *rand.Rand, tenant string, n int) []bus.Outgoing {
	outs := make([]bus.Outgoing, n)
	rated := map[string]int64{}
	for i := range outs {
		customer := fmt.Sprintf("c%d", rng.IntN(4))
		at := t0.Add(-time.Duration(rng.Int64N(int64(400 * day))))
		id := fmt.Sprintf("e%03d", i)
		if rng.IntN(2) == 0 {
			currency := "USD"
			if rng.IntN(5) == 0 {
				currency = "EUR"
			}
			outs[i] = purchase(tenant, customer, id, at, rng.Int64N(50_000), currency)
			continue
		}
		rated[customer]++
		outs[i] = feedback{tenant: tenant, customer: customer, id: id, at: at,
			nps: scoringv1.NpsClass(rng.IntN(4)), complaint: rng.IntN(4) == 0,
			satisfaction: rng.Float64() * 100, trend: rng.Float64()*20 - 10, rated: rated[customer]}.out()
	}
	return outs
}

func TestSameEventsInAnyOrderGiveTheSameProfile(t *testing.T) {
	h := start(t)
	ordered := randomEvents(rand.New(rand.NewPCG(1, 2)), "tenant-a", 120)
	shuffled := randomEvents(rand.New(rand.NewPCG(1, 2)), "tenant-b", 120)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	h.publish(t, ordered...)
	h.publish(t, shuffled...)
	evaluated(t, h, 240)
	for c := range 4 {
		id := fmt.Sprintf("c%d", c)
		a, b := h.customer(t, keyA, id), h.customer(t, keyB, id)
		if !proto.Equal(a, b) {
			t.Errorf("customer %s differs by order:\n%v\n%v", id, a, b)
		}
		if a.GetPurchaseCount()+a.GetFeedbackCount() == 0 {
			t.Errorf("customer %s has no events", id)
		}
	}
}

// waitFor polls ann-like customers until cond holds.
func (h *harness) waitFor(t testing.TB, id string, what string, cond func(*segmentationv1.CustomerProfile) bool) *segmentationv1.CustomerProfile {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := h.customer(t, keyA, id)
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not %s after 30s: %v", id, what, p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTheSweepMovesAnIdleCustomerToLapsed lets time pass with no events:
// a weekly big spender becomes at-risk (and lapsed: over four intervals
// overdue) within a month, and lost after a year; a small new customer
// slides to lost.
func TestTheSweepMovesAnIdleCustomerToLapsed(t *testing.T) {
	h := start(t, "FEEDLOOP_SEGMENTATION_SWEEP_INTERVAL", "1s")
	h.publish(t, weekly("tenant-a", "ann", 10, 150_00)...)
	h.publish(t, weekly("tenant-a", "bob", 3, 10_00)...)
	evaluated(t, h, 13)
	before := len(tierChanges(t, h, 2))
	if p := h.customer(t, keyA, "ann"); p.GetTier() != "champion" {
		t.Fatalf("tier %s, want champion", p.GetTier())
	}

	h.clock.advance(30 * day)
	p := h.waitFor(t, "ann", "at-risk", func(p *segmentationv1.CustomerProfile) bool { return p.GetTier() == "at-risk" })
	// A weekly buyer quiet for a month is over four intervals overdue.
	if p.GetLifecycle() != segmentationv1.LifecycleStage_LIFECYCLE_STAGE_LAPSED || p.GetChurnRisk().GetReasons()[0].GetCode() != "recency_vs_rhythm" {
		t.Errorf("after 30 quiet days: %v", p)
	}
	h.clock.advance(400 * day)
	gone := func(p *segmentationv1.CustomerProfile) bool {
		return p.GetLifecycle() == segmentationv1.LifecycleStage_LIFECYCLE_STAGE_LAPSED && p.GetRfm().GetRecency() == 1
	}
	p = h.waitFor(t, "ann", "lapsed for a year", gone)
	h.waitFor(t, "bob", "lapsed for a year", gone)
	if p.GetTier() != "lost" || p.GetRfm().GetRecency() != 1 || !p.GetUpdatedAt().AsTime().Equal(h.clock.now()) {
		t.Errorf("after 430 idle days: tier %s, rfm %v, updated %v", p.GetTier(), p.GetRfm(), p.GetUpdatedAt().AsTime())
	}
	time.Sleep(2500 * time.Millisecond) // two more ticks: nothing new to announce
	changes := map[string][]string{}
	for _, c := range tierChanges(t, h, before+3)[before:] {
		if !strings.HasPrefix(c.GetEventId(), "sweep-") {
			t.Errorf("unexpected change %v", c)
		}
		changes[c.GetCustomerId()] = append(changes[c.GetCustomerId()], c.GetOldTier()+"→"+c.GetNewTier())
	}
	bob := changes["bob"]
	if !slices.Equal(changes["ann"], []string{"champion→at-risk", "at-risk→lost"}) || len(bob) == 0 || !strings.HasSuffix(bob[len(bob)-1], "→lost") {
		t.Errorf("sweep changes = %v", changes)
	}
}

func TestEraseLeavesNoKeyOfTheCustomer(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.publish(t, weekly("tenant-a", "gone", 3, 90_00)...)
	h.publish(t, weekly("tenant-a", "kept", 2, 10_00)...)
	h.publish(t, feedback{tenant: "tenant-a", customer: "gone", id: "f1", at: t0, nps: scoringv1.NpsClass_NPS_CLASS_PROMOTER, satisfaction: 90, rated: 1}.out())
	h.publish(t, weekly("tenant-b", "gone", 1, 10_00)...)
	evaluated(t, h, 7)

	resp, err := h.client.EraseCustomer(testkit.WithKey(keyA), &segmentationv1.EraseCustomerRequest{CustomerId: "gone"})
	if err != nil || !resp.GetErased() {
		t.Fatalf("EraseCustomer = %v, %v", resp, err)
	}
	if _, err := h.client.GetCustomer(testkit.WithKey(keyA), &segmentationv1.GetCustomerRequest{CustomerId: "gone"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetCustomer after erase: %v, want NotFound", err)
	}
	erased := customersOn(t, h, bus.CustomerErased, 1, func() *eventsv1.CustomerErased { return new(eventsv1.CustomerErased) })
	if erased[0].GetCustomerId() != "gone" || erased[0].GetTenantId() != "tenant-a" {
		t.Errorf("CustomerErased = %v", erased[0])
	}
	rdb := h.redis.Client
	var keys []string
	iter := rdb.Scan(ctx, 0, "fl:{tenant-a}:*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	var keptSeen bool
	for _, k := range keys {
		if strings.Contains(k, "gone") {
			t.Errorf("key %s remains", k)
		}
		keptSeen = keptSeen || strings.Contains(k, "kept")
		if typ := rdb.Type(ctx, k).Val(); typ == "zset" {
			if err := rdb.ZScore(ctx, k, "gone").Err(); err == nil {
				t.Errorf("index %s still lists the customer", k)
			}
		}
	}
	if !keptSeen {
		t.Fatalf("no key of the other customer among %v: the check is blind", keys)
	}
	report, err := h.client.GetTierReport(testkit.WithKey(keyA), &segmentationv1.GetTierReportRequest{})
	if err != nil || report.GetCustomers() != 1 {
		t.Errorf("tier report after erase: %v, %v; want 1 customer", report, err)
	}
	if p := h.customer(t, keyB, "gone"); p.GetPurchaseCount() != 1 {
		t.Errorf("tenant-b's customer of the same id: %v", p)
	}

	// An event from before the erasure is not theirs to keep; one after it
	// starts a new profile.
	late := purchase("tenant-a", "gone", "late", t0.Add(-time.Hour), 5_00, "USD")
	h.publish(t, late)
	h.waitIdle(t)
	if _, err := h.client.GetCustomer(testkit.WithKey(keyA), &segmentationv1.GetCustomerRequest{CustomerId: "gone"}); status.Code(err) != codes.NotFound {
		t.Errorf("an event from before the erasure recreated the customer: %v", err)
	}
	h.clock.advance(time.Minute)
	h.publish(t, purchase("tenant-a", "gone", "new", h.clock.now(), 5_00, "USD"))
	h.waitIdle(t)
	if p := h.customer(t, keyA, "gone"); p.GetPurchaseCount() != 1 || p.GetFeedbackCount() != 0 {
		t.Errorf("after a new purchase: %v", p)
	}
	resp, err = h.client.EraseCustomer(testkit.WithKey(keyA), &segmentationv1.EraseCustomerRequest{CustomerId: "nobody"})
	if err != nil || resp.GetErased() {
		t.Errorf("erasing an unknown customer = %v, %v; want erased false", resp, err)
	}
}

func TestPoisonIsDeadLetteredAndTheNextEventFlows(t *testing.T) {
	h := start(t)
	testkit.PublishGarbage(t, h.js, "feedback.scored.tenant-a", "feedloop.events.v1.FeedbackScored", "tenant-a/garbage")
	h.publish(t, feedback{tenant: "tenant-a", id: "no-customer", at: t0}.out(),
		feedback{tenant: "tenant-a", customer: "c1", id: "good", at: t0, rated: 1}.out())
	if evs := evaluated(t, h, 1); evs[0].GetProfile().GetCustomerId() != "c1" {
		t.Errorf("evaluated %v, want c1", evs[0].GetProfile())
	}
	reasons := map[string]string{}
	for id, dl := range testkit.DeadLetters(t, h.js, 2, 10*time.Second) {
		reasons[id] = dl.Reason
		if dl.Consumer != "segmentation" || dl.Stream != "SCORED" {
			t.Errorf("dead letter from %s/%s", dl.Stream, dl.Consumer)
		}
	}
	if !strings.Contains(reasons["tenant-a/garbage"], "decode") || !strings.Contains(reasons["tenant-a/no-customer"], "customer_id") {
		t.Errorf("dead-letter reasons = %q", reasons)
	}
}

func TestTraceContextCrossesTheHop(t *testing.T) {
	h := start(t)
	otel.SetTextMapPropagator(propagation.TraceContext{}) // as telemetry.Setup does
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	out := feedback{tenant: "tenant-a", customer: "ann", id: "f1", at: t0, nps: scoringv1.NpsClass_NPS_CLASS_PROMOTER, rated: 1}.out()
	out.Ctx = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true}))
	h.publish(t, out)
	evaluated(t, h, 1)
	for _, m := range testkit.StreamMessages(t, h.js, bus.CustomersStream.Name) {
		if got := m.Header.Get("traceparent"); !strings.Contains(got, traceID.String()) {
			t.Errorf("%s: traceparent %q, want trace %s continued", m.Subject, got, traceID)
		}
		if m.Header.Get(bus.HeaderType) == "" || !strings.HasPrefix(m.Header.Get(jetstream.MsgIDHeader), "tenant-a/f1") {
			t.Errorf("%s: headers %v", m.Subject, m.Header)
		}
	}
}

// TestRedisOutageIsRetried stops Redis under the pipeline: events wait and
// are applied once when it is back.
func TestRedisOutageIsRetried(t *testing.T) {
	h := start(t)
	h.redis.Stop()
	h.publish(t, weekly("tenant-a", "ann", 3, 10_00)...)
	time.Sleep(300 * time.Millisecond) // a few failed tries
	if n := len(testkit.StreamMessages(t, h.js, bus.CustomersStream.Name)); n != 0 {
		t.Fatalf("CUSTOMERS holds %d messages while Redis is down", n)
	}
	h.redis.Restart(t)
	evaluated(t, h, 3)
	h.waitIdle(t)
	if p := h.customer(t, keyA, "ann"); p.GetPurchaseCount() != 3 {
		t.Errorf("purchases %d, want 3", p.GetPurchaseCount())
	}
}
