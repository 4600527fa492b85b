package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
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
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/scoring/internal/app"
)

const (
	keyA = "key-for-tenant-a-000000"
	keyB = "key-for-tenant-b-000000"
)

type harness struct {
	client scoringv1.ScoringServiceClient
	js     jetstream.JetStream
	cfg    app.Config
	pub    *bus.Publisher // publishes as intake would
	redis  *testkit.Redis
}

// start runs scoring in-process against a real JetStream and a real Redis,
// with the FEEDBACK stream created as intake creates it.
func start(t testing.TB, extra ...string) *harness {
	t.Helper()
	h := deps(t, extra...)
	h.run(t)
	return h
}

// deps starts JetStream and Redis and creates the FEEDBACK stream; run
// starts scoring on them.
func deps(t testing.TB, extra ...string) *harness {
	t.Helper()
	st := testkit.StartStack(t, keyA+"=tenant-a,"+keyB+"=tenant-b", extra...)
	cfg := app.ConfigFromEnv(st.Env)
	if err := st.Env.Err(); err != nil {
		t.Fatal(err)
	}
	h := &harness{cfg: cfg, redis: st.Redis, js: st.JS}
	h.pub = bus.NewPublisher(h.js, "feedloop/intake")
	if _, err := bus.EnsureStream(context.Background(), h.js, cfg.Bus, bus.FeedbackStream); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) run(t testing.TB) {
	t.Helper()
	cc, _ := testkit.RunApp(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, h.cfg, discard()) })
	h.client = scoringv1.NewScoringServiceClient(cc)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func received(tenant string, f *intakev1.Feedback) bus.Outgoing {
	return bus.Outgoing{
		Subject: bus.Subject(bus.FeedbackReceived, tenant),
		ID:      tenant + "/" + f.EventId,
		Msg:     &eventsv1.FeedbackReceived{TenantId: tenant, Feedback: f, ReceivedAt: timestamppb.Now()},
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

// scored waits for n FeedbackScored messages and decodes them.
func (h *harness) scored(t testing.TB, n int) ([]*eventsv1.FeedbackScored, []*jetstream.RawStreamMsg) {
	t.Helper()
	raws := testkit.WaitStream(t, h.js, "SCORED", n, 30*time.Second)
	out := make([]*eventsv1.FeedbackScored, len(raws))
	for i, m := range raws {
		out[i] = new(eventsv1.FeedbackScored)
		if err := proto.Unmarshal(m.Data, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out, raws
}

func TestFeedbackComesOutScoredWithItsTrace(t *testing.T) {
	h := start(t)
	otel.SetTextMapPropagator(propagation.TraceContext{}) // as telemetry.Setup does
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	out := received("tenant-a", &intakev1.Feedback{
		EventId: "survey-1", CustomerId: "cust-1", OccurredAt: timestamppb.New(time.Now().Add(-time.Hour)),
		Channel: intakev1.Channel_CHANNEL_APP, Touchpoint: "delivery",
		Nps: proto.Int32(3), Csat: proto.Int32(2), Ces: proto.Int32(6),
		Comment:   &intakev1.Comment{Text: "The courier was rude and the parcel arrived late."},
		Complaint: &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY},
	})
	out.Ctx = trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true}))
	h.publish(t, out)

	msgs, raws := h.scored(t, 1)
	if raws[0].Subject != "feedback.scored.tenant-a" || raws[0].Header.Get("Nats-Msg-Id") != "tenant-a/survey-1" ||
		raws[0].Header.Get("ce-type") != "feedloop.events.v1.FeedbackScored" {
		t.Errorf("subject %q, headers %v", raws[0].Subject, raws[0].Header)
	}
	if got := raws[0].Header.Get("traceparent"); !strings.Contains(got, traceID.String()) {
		t.Errorf("traceparent = %q, want trace %s continued", got, traceID)
	}
	m := msgs[0]
	if !proto.Equal(m.Received, out.Msg) {
		t.Errorf("received = %v, want the original event", m.Received)
	}
	s := m.Scores
	sent := s.GetSentiment().GetScore()
	if s.NpsClass != scoringv1.NpsClass_NPS_CLASS_DETRACTOR || s.GetCsat() != 25 || math.Abs(s.GetCes()-100.0/6) > 1e-9 ||
		s.ComplaintSeverity != scoringv1.ComplaintSeverity_COMPLAINT_SEVERITY_HIGH || sent >= 0 || len(s.GetSentiment().GetDrivers()) == 0 {
		t.Errorf("scores = %v", s)
	}
	// NPS 30×.3, CSAT 25×.2, CES 16.67×.1, sentiment, complaint 0×.1, over .8.
	want := (9 + 5 + 100.0/60 + (sent+1)/2*100*0.1) / 0.8
	if math.Abs(s.ExperienceScore-want) > 0.01 {
		t.Errorf("experience = %v, want %v", s.ExperienceScore, want)
	}
	c := m.Customer
	if c.CustomerId != "cust-1" || c.FeedbackCount != 1 || c.DetractorCount != 1 || c.ComplaintCount != 1 ||
		math.Abs(c.DecayedSatisfaction-s.ExperienceScore) > 1e-9 || c.LastEventId != "survey-1" || c.LastScores != nil {
		t.Errorf("customer = %v", c)
	}

	got, err := h.client.GetCustomerScores(testkit.WithKey(keyA), &scoringv1.GetCustomerScoresRequest{CustomerId: "cust-1"})
	withLatest := proto.CloneOf(c)
	withLatest.LastScores = s
	if err != nil || !proto.Equal(got.Scores, withLatest) {
		t.Errorf("GetCustomerScores = %v, %v; want %v", got, err, withLatest)
	}
	// Another tenant does not see it.
	if _, err := h.client.GetCustomerScores(testkit.WithKey(keyB), &scoringv1.GetCustomerScoresRequest{CustomerId: "cust-1"}); status.Code(err) != codes.NotFound {
		t.Errorf("tenant b reading tenant a's customer: %v, want NotFound", err)
	}
	if _, err := h.client.GetCustomerScores(testkit.WithKey(keyA), &scoringv1.GetCustomerScoresRequest{CustomerId: "bad id"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad customer id: %v, want InvalidArgument", err)
	}
}

// randomFeedback is a feedback event within spread before now with a random
// mix of signals, channels and touchpoints.
func randomFeedback(rng *rand.Rand, id string, now time.Time, spread time.Duration) *intakev1.Feedback {
	f := &intakev1.Feedback{
		EventId:    id,
		CustomerId: fmt.Sprint("cust-", rng.IntN(20)),
		OccurredAt: timestamppb.New(now.Add(-time.Duration(rng.Int64N(int64(spread))))),
		Channel:    intakev1.Channel(1 + rng.IntN(3)),
		Touchpoint: []string{"checkout", "delivery", "support", ""}[rng.IntN(4)],
	}
	if rng.IntN(3) > 0 {
		f.Nps = proto.Int32(int32(rng.IntN(11)))
	}
	if rng.IntN(2) == 0 {
		f.Csat = proto.Int32(int32(1 + rng.IntN(5)))
	}
	if rng.IntN(3) == 0 {
		f.Ces = proto.Int32(int32(1 + rng.IntN(7)))
	}
	if rng.IntN(3) == 0 {
		r := func() *intakev1.ServqualRating {
			if rng.IntN(2) == 0 {
				return nil
			}
			return &intakev1.ServqualRating{Expectation: int32(1 + rng.IntN(7)), Perception: int32(1 + rng.IntN(7))}
		}
		f.Servqual = &intakev1.Servqual{Reliability: r(), Responsiveness: r(), Assurance: r(), Empathy: r(), Tangibles: r()}
	}
	if rng.IntN(2) == 0 {
		f.Comment = &intakev1.Comment{Text: []string{
			"Great service, very friendly staff.", "The delivery was late and the box was damaged.",
			"还不错，下次还会来", "服务态度很差，非常失望", "ok", "Not bad at all, quick and easy.",
		}[rng.IntN(6)]}
	}
	if rng.IntN(6) == 0 {
		f.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory(1 + rng.IntN(8))}
	}
	if f.Nps == nil && f.Csat == nil && f.Ces == nil && f.Servqual == nil && f.Comment == nil && f.Complaint == nil {
		f.Nps = proto.Int32(10)
	}
	return f
}

// report is tenant a's 30-day total.
func (h *harness) report(t testing.TB) *scoringv1.ExperienceSummary {
	t.Helper()
	now := time.Now()
	got, err := h.client.GetExperienceReport(testkit.WithKey(keyA), &scoringv1.GetExperienceReportRequest{
		StartTime: timestamppb.New(now.Add(-31 * 24 * time.Hour)), EndTime: timestamppb.New(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	return got.Total
}

// TestRedeliveryCountsOnce fails the publish after the Redis update (the
// SCORED stream is gone), so every event is applied, nak'd and delivered
// again; once the stream is back, the aggregates are those of one delivery.
func TestRedeliveryCountsOnce(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	if err := h.js.DeleteStream(ctx, "SCORED"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var outs []bus.Outgoing
	for i := range 50 {
		outs = append(outs, received("tenant-a", randomFeedback(rng, fmt.Sprint("ev-", i), time.Now(), 30*24*time.Hour)))
	}
	h.publish(t, outs...)

	// Wait until every event has been applied and at least one redelivered.
	cons, err := h.js.Consumer(ctx, "FEEDBACK", "scoring")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := cons.Info(ctx)
		applied, _ := h.redis.Client.Keys(ctx, "fl:{tenant-a}:scoring:seen:*").Result()
		if err == nil && info.NumRedelivered > 0 && len(applied) == len(outs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no redelivery seen (consumer %+v, %d applied)", info, len(applied))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := bus.EnsureStream(ctx, h.js, h.cfg.Bus, bus.ScoredStream); err != nil {
		t.Fatal(err)
	}
	all, _ := h.scored(t, len(outs))
	checkSummary(t, "after redelivery", h.report(t), bruteForce(all))

	var feedback int64
	for c := range 20 {
		got, err := h.client.GetCustomerScores(testkit.WithKey(keyA), &scoringv1.GetCustomerScoresRequest{CustomerId: fmt.Sprint("cust-", c)})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		feedback += got.Scores.FeedbackCount
	}
	if feedback != int64(len(outs)) {
		t.Errorf("customers count %d feedback events, want %d", feedback, len(outs))
	}
	time.Sleep(200 * time.Millisecond) // any further redelivery would publish more
	if n := len(testkit.StreamMessages(t, h.js, "SCORED")); n != len(outs) {
		t.Errorf("SCORED holds %d messages, want %d", n, len(outs))
	}
}

// TestPoisonIsDeadLetteredAndTheNextEventFlows sends what intake never
// would: bytes that do not decode, and an event missing its customer.
func TestPoisonIsDeadLetteredAndTheNextEventFlows(t *testing.T) {
	h := start(t)
	testkit.PublishGarbage(t, h.js, "feedback.received.tenant-a", "feedloop.events.v1.FeedbackReceived", "tenant-a/garbage")
	noCustomer := &intakev1.Feedback{EventId: "no-customer", OccurredAt: timestamppb.Now(), Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(5)}
	good := &intakev1.Feedback{EventId: "good", CustomerId: "c1", OccurredAt: timestamppb.Now(), Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(9)}
	h.publish(t, received("tenant-a", noCustomer), received("tenant-a", good))

	scored, _ := h.scored(t, 1)
	if id := scored[0].Received.Feedback.EventId; id != "good" {
		t.Errorf("scored %q, want the good event", id)
	}
	reasons := map[string]string{}
	for id, dl := range testkit.DeadLetters(t, h.js, 2, 10*time.Second) {
		reasons[id] = dl.Reason
		if dl.Consumer != "scoring" || dl.Stream != "FEEDBACK" {
			t.Errorf("dead letter from %s/%s", dl.Stream, dl.Consumer)
		}
	}
	if !strings.Contains(reasons["tenant-a/garbage"], "decode") || !strings.Contains(reasons["tenant-a/no-customer"], "customer_id") {
		t.Errorf("dead-letter reasons = %q", reasons)
	}
}

// TestRedisOutageIsRetried stops Redis under the pipeline: events wait and
// are scored once it is back.
func TestRedisOutageIsRetried(t *testing.T) {
	h := start(t)
	h.redis.Stop()
	f := &intakev1.Feedback{EventId: "during-outage", CustomerId: "c1", OccurredAt: timestamppb.Now(), Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(9)}
	h.publish(t, received("tenant-a", f))
	time.Sleep(300 * time.Millisecond) // a few failed tries
	if n := len(testkit.StreamMessages(t, h.js, "SCORED")); n != 0 {
		t.Fatalf("SCORED holds %d messages while Redis is down", n)
	}
	h.redis.Restart(t)
	scored, _ := h.scored(t, 1)
	if scored[0].Customer.FeedbackCount != 1 {
		t.Errorf("customer = %v", scored[0].Customer)
	}
}
