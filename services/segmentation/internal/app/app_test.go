package app_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/segmentation/internal/app"
)

const (
	keyA = "key-for-tenant-a-000000"
	keyB = "key-for-tenant-b-000000"
)

// clock is the service's clock, moved by the test.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ms.Store(t.UnixMilli()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// t0 is the test's "now" at start.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	client segmentationv1.SegmentationServiceClient
	js     jetstream.JetStream
	cfg    app.Config
	pub    *bus.Publisher // publishes as intake and scoring would
	redis  *testkit.Redis
	clock  *clock
	stop   func()
}

// start runs segmentation in-process against a real JetStream and a real
// Redis, with the FEEDBACK and SCORED streams created as their owners
// create them, and a clock at t0.
func start(t testing.TB, extra ...string) *harness {
	t.Helper()
	st := testkit.StartStack(t, keyA+"=tenant-a,"+keyB+"=tenant-b",
		append([]string{"FEEDLOOP_SEGMENTATION_SWEEP_INTERVAL", "1h"}, extra...)...) // tests sweep when they choose
	cfg := app.ConfigFromEnv(st.Env)
	if err := st.Env.Err(); err != nil {
		t.Fatal(err)
	}
	h := &harness{redis: st.Redis, js: st.JS, clock: &clock{}}
	h.clock.set(t0)
	cfg.Now = h.clock.now
	h.cfg = cfg
	h.pub = bus.NewPublisher(h.js, "feedloop/test")
	for _, s := range []bus.Stream{bus.FeedbackStream, bus.ScoredStream} {
		if _, err := bus.EnsureStream(context.Background(), h.js, cfg.Bus, s); err != nil {
			t.Fatal(err)
		}
	}
	h.run(t)
	return h
}

func (h *harness) run(t testing.TB) {
	t.Helper()
	var cc *grpc.ClientConn
	cc, h.stop = testkit.RunApp(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, h.cfg, discard()) })
	h.client = segmentationv1.NewSegmentationServiceClient(cc)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// feedback is a scored feedback event as scoring publishes it.
type feedback struct {
	tenant, customer, id string
	at                   time.Time
	nps                  scoringv1.NpsClass
	complaint            bool
	satisfaction, trend  float64
	rated                int64 // the customer's feedback count after it
}

func (f feedback) out() bus.Outgoing {
	fb := &intakev1.Feedback{EventId: f.id, CustomerId: f.customer, OccurredAt: timestamppb.New(f.at), Channel: intakev1.Channel_CHANNEL_WEB}
	if f.complaint {
		fb.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY}
	}
	return bus.Outgoing{
		Subject: bus.Subject(bus.FeedbackScored, f.tenant),
		ID:      f.tenant + "/" + f.id,
		Msg: &eventsv1.FeedbackScored{
			Received: &eventsv1.FeedbackReceived{TenantId: f.tenant, Feedback: fb, ReceivedAt: timestamppb.New(f.at)},
			Scores:   &scoringv1.Scores{NpsClass: f.nps},
			Customer: &scoringv1.CustomerScores{CustomerId: f.customer, DecayedSatisfaction: f.satisfaction, SatisfactionTrend: f.trend, FeedbackCount: f.rated},
		},
	}
}

// purchase is an activity event as intake publishes it.
func purchase(tenant, customer, id string, at time.Time, amount int64, currency string) bus.Outgoing {
	return bus.Outgoing{
		Subject: bus.Subject(bus.ActivityReceived, tenant),
		ID:      tenant + "/" + id,
		Msg: &eventsv1.ActivityReceived{TenantId: tenant, ReceivedAt: timestamppb.New(at), Activity: &intakev1.Activity{
			EventId: id, CustomerId: customer, OccurredAt: timestamppb.New(at), Channel: intakev1.Channel_CHANNEL_WEB,
			Purchase: &intakev1.Purchase{OrderId: "o-" + id, Amount: &intakev1.Money{AmountMinor: amount, Currency: currency}},
		}},
	}
}

func (h *harness) publish(t testing.TB, outs ...bus.Outgoing) {
	t.Helper()
	for i := 0; i < len(outs); i += 500 {
		_, errs := h.pub.PublishAll(context.Background(), outs[i:min(i+500, len(outs))])
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// customersOn returns the CUSTOMERS stream's messages on subjects with
// prefix, decoded as T, once there are at least n.
func customersOn[T proto.Message](t testing.TB, h *harness, prefix string, n int, newT func() T) []T {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []T
		for _, m := range testkit.StreamMessages(t, h.js, bus.CustomersStream.Name) {
			if len(m.Subject) > len(prefix) && m.Subject[:len(prefix)+1] == prefix+"." {
				v := newT()
				if err := proto.Unmarshal(m.Data, v); err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages on %s, want %d", len(out), prefix, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func evaluated(t testing.TB, h *harness, n int) []*eventsv1.CustomerEvaluated {
	return customersOn(t, h, bus.CustomerEvaluated, n, func() *eventsv1.CustomerEvaluated { return new(eventsv1.CustomerEvaluated) })
}

func tierChanges(t testing.TB, h *harness, n int) []*eventsv1.TierChanged {
	return customersOn(t, h, bus.TierChanged, n, func() *eventsv1.TierChanged { return new(eventsv1.TierChanged) })
}

func (h *harness) customer(t testing.TB, key, id string) *segmentationv1.CustomerProfile {
	t.Helper()
	resp, err := h.client.GetCustomer(testkit.WithKey(key), &segmentationv1.GetCustomerRequest{CustomerId: id})
	if err != nil {
		t.Fatalf("GetCustomer(%s): %v", id, err)
	}
	return resp.GetProfile()
}

func TestScoredFeedbackUpdatesTheProfileAndIsPublishedEvaluated(t *testing.T) {
	h := start(t)
	day := 24 * time.Hour
	var outs []bus.Outgoing
	for i := range 10 { // a big spender, weekly for ten weeks
		outs = append(outs, purchase("tenant-a", "ann", "p"+string(rune('0'+i)), t0.Add(-time.Duration(i)*7*day), 150_00, "USD"))
	}
	outs = append(outs, purchase("tenant-a", "ann", "p-eur", t0.Add(-day), 40_00, "EUR"))
	h.publish(t, outs...)
	evaluated(t, h, len(outs))
	champion := h.customer(t, keyA, "ann")
	if champion.GetTier() != "champion" || champion.GetValueLevel() != segmentationv1.ValueLevel_VALUE_LEVEL_HIGH {
		t.Fatalf("before the feedback: tier %s, value %s; want champion, high", champion.GetTier(), champion.GetValueLevel())
	}

	// She answers as a detractor with a complaint.
	h.publish(t, feedback{tenant: "tenant-a", customer: "ann", id: "f1", at: t0.Add(-time.Hour),
		nps: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, complaint: true, satisfaction: 21.5, trend: -3, rated: 1}.out())
	evs := evaluated(t, h, len(outs)+1)
	last := evs[len(evs)-1]
	if last.GetFeedback().GetReceived().GetFeedback().GetEventId() != "f1" {
		t.Fatalf("last CustomerEvaluated is for %v, want f1", last.GetCause())
	}
	p := last.GetProfile()
	want := &segmentationv1.CustomerProfile{
		CustomerId: "ann", PurchaseCount: 11, FeedbackCount: 1,
		Monetary:      &intakev1.Money{AmountMinor: 1500_00, Currency: "USD"},
		OtherMonetary: []*intakev1.Money{{AmountMinor: 40_00, Currency: "EUR"}},
		Purchases_90D: 11, Purchases_365D: 11, // the EUR purchase counts as a purchase
		Rfm:                 &segmentationv1.Rfm{Recency: 5, Frequency: 4, Monetary: 4},
		DecayedSatisfaction: 21.5, SatisfactionTrend: -3,
		LatestNpsClass: scoringv1.NpsClass_NPS_CLASS_DETRACTOR,
		Detractors_30D: 1, Detractors_90D: 1, Complaints_30D: 1, Complaints_90D: 1,
		Tier:       "at-risk",
		ValueLevel: segmentationv1.ValueLevel_VALUE_LEVEL_HIGH,
	}
	got := proto.Clone(p).(*segmentationv1.CustomerProfile)
	got.FirstSeen, got.LastSeen, got.LastPurchaseAt, got.ChurnRisk, got.TierReasons, got.TierSince, got.UpdatedAt, got.Lifecycle = nil, nil, nil, nil, nil, nil, nil, 0
	if !proto.Equal(got, want) {
		t.Errorf("profile\n got %v\nwant %v", got, want)
	}
	if last.GetPreviousChurnRisk() != champion.GetChurnRisk().GetScore() || last.GetPreviousChurnRisk() == p.GetChurnRisk().GetScore() {
		t.Errorf("previous churn risk %v; the champion's was %v, now %v", last.GetPreviousChurnRisk(), champion.GetChurnRisk().GetScore(), p.GetChurnRisk().GetScore())
	}
	if last.GetPreviousTier() != "champion" || p.GetTierSince().AsTime() != t0 || p.GetLastSeen().AsTime() != t0 {
		t.Errorf("previous tier %q, tier since %v, last seen %v", last.GetPreviousTier(), p.GetTierSince().AsTime(), p.GetLastSeen().AsTime())
	}
	if len(p.GetChurnRisk().GetReasons()) == 0 || p.GetChurnRisk().GetReasons()[0].GetDescription() == "" {
		t.Errorf("churn risk without reasons: %v", p.GetChurnRisk())
	}
	if !proto.Equal(h.customer(t, keyA, "ann"), p) {
		t.Errorf("GetCustomer differs from the published profile:\n%v\n%v", h.customer(t, keyA, "ann"), p)
	}
	changes := tierChanges(t, h, 2)
	if c := changes[len(changes)-1]; c.GetOldTier() != "champion" || c.GetNewTier() != "at-risk" || c.GetEventId() != "f1" || c.GetReasons()[0].GetDescription() == "" {
		t.Errorf("TierChanged = %v", c)
	}
}
