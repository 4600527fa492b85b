package app_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/intake/internal/app"
)

const (
	keyA = "key-for-tenant-a-000000"
	keyB = "key-for-tenant-b-000000"
)

type harness struct {
	client intakev1.IntakeServiceClient
	nats   *testkit.JetStream
	redis  *testkit.Redis
	js     jetstream.JetStream
}

// start runs intake in-process against a real JetStream and a real Redis.
func start(t testing.TB) *harness {
	t.Helper()
	h := &harness{nats: testkit.StartJetStream(t), redis: testkit.StartRedis(t)}
	env := config.FromMap(map[string]string{
		"FEEDLOOP_GRPC_ADDR":            "127.0.0.1:0",
		"FEEDLOOP_METRICS_ADDR":         "",
		"FEEDLOOP_NATS_URL":             h.nats.ClientURL(),
		"FEEDLOOP_NATS_PUBLISH_TIMEOUT": "1s",
		"FEEDLOOP_REDIS_URL":            h.redis.URL,
		"FEEDLOOP_API_KEYS":             keyA + "=tenant-a," + keyB + "=tenant-b",
		"FEEDLOOP_GRPC_MAX_RECV_BYTES":  "65536",
		"FEEDLOOP_RATE_LIMIT":           "0",
	})
	cfg := app.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cc, _ := testkit.RunApp(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, log) })
	h.client = intakev1.NewIntakeServiceClient(cc)

	nc, err := nats.Connect(h.nats.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h.js, _ = jetstream.New(nc)
	return h
}

func feedback(id string) *intakev1.Feedback {
	return &intakev1.Feedback{
		EventId:    id,
		CustomerId: "cust-1",
		Channel:    intakev1.Channel_CHANNEL_APP,
		Touchpoint: "delivery",
		Nps:        proto.Int32(3),
		Comment:    &intakev1.Comment{Text: "送货太慢了", Language: "zh-CN"},
		Complaint:  &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY},
		Attributes: map[string]string{"region": "east"},
	}
}

// stored returns every message in the FEEDBACK stream.
func (h *harness) stored(t testing.TB) []*jetstream.RawStreamMsg {
	t.Helper()
	return testkit.StreamMessages(t, h.js, "FEEDBACK")
}

func TestSubmitFeedbackLandsInStream(t *testing.T) {
	h := start(t)
	otel.SetTextMapPropagator(propagation.TraceContext{}) // as telemetry.Setup does
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := metadata.AppendToOutgoingContext(testkit.WithKey(keyA), "traceparent", traceparent)
	before := time.Now()
	fb := feedback("")
	resp, err := h.client.SubmitFeedback(ctx, &intakev1.SubmitFeedbackRequest{Feedback: fb})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := uuid.Parse(resp.EventId); err != nil || id.Version() != 7 || resp.Duplicate {
		t.Fatalf("response = %v, want a fresh UUIDv7", resp)
	}
	msgs := h.stored(t)
	if len(msgs) != 1 {
		t.Fatalf("stream holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "feedback.received.tenant-a" {
		t.Errorf("subject = %q", m.Subject)
	}
	for k, want := range map[string]string{
		"Nats-Msg-Id":    "tenant-a/" + resp.EventId,
		"ce-type":        "feedloop.events.v1.FeedbackReceived",
		"ce-source":      "feedloop/intake",
		"ce-specversion": "1.0",
		"ce-id":          "tenant-a/" + resp.EventId,
		"content-type":   "application/protobuf",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if at, err := time.Parse(time.RFC3339Nano, m.Header.Get("ce-time")); err != nil || at.Before(before.Add(-time.Second)) {
		t.Errorf("ce-time = %q (%v)", m.Header.Get("ce-time"), err)
	}
	// The caller's trace continues on the bus (tracing off: same span id too).
	if got := m.Header.Get("traceparent"); !strings.HasPrefix(got, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("traceparent = %q, want the caller's trace", got)
	}
	var ev eventsv1.FeedbackReceived
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.TenantId != "tenant-a" || ev.Feedback.EventId != resp.EventId {
		t.Errorf("event tenant %q id %q", ev.TenantId, ev.Feedback.EventId)
	}
	if at := ev.Feedback.OccurredAt.AsTime(); at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("occurred_at = %v, want the receive time", at)
	}
	want := feedback(resp.EventId)
	want.OccurredAt = ev.Feedback.OccurredAt
	if !proto.Equal(ev.Feedback, want) {
		t.Errorf("stored feedback = %v\nwant %v", ev.Feedback, want)
	}
}

func TestDuplicateIsStoredOnce(t *testing.T) {
	h := start(t)
	req := &intakev1.SubmitFeedbackRequest{Feedback: feedback("order-42-survey")}
	first, err := h.client.SubmitFeedback(testkit.WithKey(keyA), req)
	if err != nil || first.Duplicate {
		t.Fatalf("first = %v, %v", first, err)
	}
	// Ids are recorded just after the answer.
	key := "fl:intake:seen:{tenant-a/order-42-survey}"
	for deadline := time.Now().Add(5 * time.Second); h.redis.Client.Exists(context.Background(), key).Val() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("event id not recorded in Redis")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Beyond JetStream's duplicate window only Redis remembers the id.
	st, _ := h.js.Stream(context.Background(), "FEEDBACK")
	cfg := st.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := h.js.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the window passes
	for range 2 {
		again, err := h.client.SubmitFeedback(testkit.WithKey(keyA), req)
		if err != nil || !again.Duplicate || again.EventId != "order-42-survey" {
			t.Fatalf("repeat = %v, %v; want duplicate", again, err)
		}
	}
	if n := len(h.stored(t)); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

func TestConcurrentRepeatsAreStoredOnce(t *testing.T) {
	h := start(t)
	const callers = 8
	var wg sync.WaitGroup
	var fresh atomic.Int32
	for range callers {
		wg.Go(func() {
			resp, err := h.client.SubmitFeedback(testkit.WithKey(keyA), &intakev1.SubmitFeedbackRequest{Feedback: feedback("same-time")})
			if err != nil {
				t.Error(err)
				return
			}
			if !resp.Duplicate {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d callers were told their event is new, want 1", fresh.Load())
	}
	if n := len(h.stored(t)); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

// An event id names one event of any kind: reusing a purchase's id for
// feedback is a repeat (intake.proto documents it).
func TestEventIDsSpanKinds(t *testing.T) {
	h := start(t)
	_, err := h.client.RecordActivity(testkit.WithKey(keyA), &intakev1.RecordActivityRequest{Activity: &intakev1.Activity{
		EventId: "order-7", CustomerId: "c", Channel: intakev1.Channel_CHANNEL_WEB,
		Purchase: &intakev1.Purchase{OrderId: "7", Amount: &intakev1.Money{AmountMinor: 100, Currency: "EUR"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.client.SubmitFeedback(testkit.WithKey(keyA), &intakev1.SubmitFeedbackRequest{Feedback: feedback("order-7")})
	if err != nil || !resp.Duplicate {
		t.Fatalf("feedback reusing a purchase's id = %v, %v; want duplicate", resp, err)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	h := start(t)
	for _, key := range []string{keyA, keyB} {
		resp, err := h.client.SubmitFeedback(testkit.WithKey(key), &intakev1.SubmitFeedbackRequest{Feedback: feedback("shared-id")})
		if err != nil || resp.Duplicate {
			t.Fatalf("%s: %v, %v; want accepted (ids are per tenant)", key, resp, err)
		}
	}
	msgs := h.stored(t)
	if len(msgs) != 2 {
		t.Fatalf("stream holds %d messages, want 2", len(msgs))
	}
	for i, tenant := range []string{"tenant-a", "tenant-b"} {
		var ev eventsv1.FeedbackReceived
		if err := proto.Unmarshal(msgs[i].Data, &ev); err != nil {
			t.Fatal(err)
		}
		if msgs[i].Subject != "feedback.received."+tenant || ev.TenantId != tenant || msgs[i].Header.Get("Nats-Msg-Id") != tenant+"/shared-id" {
			t.Errorf("message %d: subject %q tenant %q: want %s", i, msgs[i].Subject, ev.TenantId, tenant)
		}
	}
}

func TestAuthentication(t *testing.T) {
	h := start(t)
	req := &intakev1.SubmitFeedbackRequest{Feedback: feedback("")}
	if _, err := h.client.SubmitFeedback(context.Background(), req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no key: %v, want Unauthenticated", err)
	}
	if _, err := h.client.SubmitFeedback(testkit.WithKey("wrong-key-0000000000000"), req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong key: %v, want Unauthenticated", err)
	}
	if _, err := h.client.RecordActivity(testkit.WithKey("wrong-key-0000000000000"), &intakev1.RecordActivityRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong key on RecordActivity: %v, want Unauthenticated", err)
	}
	if n := len(h.stored(t)); n != 0 {
		t.Errorf("stream holds %d messages, want 0", n)
	}
}

func TestInvalidRequestsNeverReachTheStream(t *testing.T) {
	h := start(t)
	with := func(edit func(*intakev1.Feedback)) *intakev1.SubmitFeedbackRequest {
		fb := feedback("")
		edit(fb)
		return &intakev1.SubmitFeedbackRequest{Feedback: fb}
	}
	manyAttrs := map[string]string{}
	for i := range 33 {
		manyAttrs["k"+strings.Repeat("x", i)] = "v"
	}
	for _, tc := range []struct {
		name  string
		req   *intakev1.SubmitFeedbackRequest
		field string
	}{
		{"missing feedback", &intakev1.SubmitFeedbackRequest{}, "feedback"},
		{"missing customer", with(func(f *intakev1.Feedback) { f.CustomerId = "" }), "feedback.customer_id"},
		{"customer with braces", with(func(f *intakev1.Feedback) { f.CustomerId = "{x}" }), "feedback.customer_id"},
		{"bad event id", with(func(f *intakev1.Feedback) { f.EventId = "has space" }), "feedback.event_id"},
		{"unknown channel", with(func(f *intakev1.Feedback) { f.Channel = 99 }), "feedback.channel"},
		{"unspecified channel", with(func(f *intakev1.Feedback) { f.Channel = 0 }), "feedback.channel"},
		{"nps too high", with(func(f *intakev1.Feedback) { f.Nps = proto.Int32(11) }), "feedback.nps"},
		{"csat too low", with(func(f *intakev1.Feedback) { f.Csat = proto.Int32(0) }), "feedback.csat"},
		{"ces too high", with(func(f *intakev1.Feedback) { f.Ces = proto.Int32(8) }), "feedback.ces"},
		{"servqual out of range", with(func(f *intakev1.Feedback) {
			f.Servqual = &intakev1.Servqual{Empathy: &intakev1.ServqualRating{Expectation: 8, Perception: 3}}
		}), "feedback.servqual.empathy.expectation"},
		{"empty servqual", with(func(f *intakev1.Feedback) { f.Servqual = &intakev1.Servqual{} }), "feedback.servqual"},
		{"no signal", with(func(f *intakev1.Feedback) { f.Nps, f.Comment, f.Complaint = nil, nil, nil }), "feedback"},
		{"empty comment", with(func(f *intakev1.Feedback) { f.Comment = &intakev1.Comment{} }), "feedback.comment.text"},
		{"comment too long", with(func(f *intakev1.Feedback) { f.Comment.Text = strings.Repeat("好", 4001) }), "feedback.comment.text"},
		{"invalid UTF-8", with(func(f *intakev1.Feedback) { f.Comment.Text = "ok \xc3\x28" }), "feedback.comment.text"},
		{"invalid UTF-8 in attribute", with(func(f *intakev1.Feedback) { f.Attributes["region"] = "\xff" }), `feedback.attributes["region"]`},
		{"too many attributes", with(func(f *intakev1.Feedback) { f.Attributes = manyAttrs }), "feedback.attributes"},
		{"bad language", with(func(f *intakev1.Feedback) { f.Comment.Language = "chinese!" }), "feedback.comment.language"},
		{"unknown complaint category", with(func(f *intakev1.Feedback) { f.Complaint.Category = 77 }), "feedback.complaint.category"},
		{"negative order amount", with(func(f *intakev1.Feedback) {
			f.Order = &intakev1.Order{OrderId: "o1", Amount: &intakev1.Money{AmountMinor: -5, Currency: "USD"}}
		}), "feedback.order.amount"},
		{"bad currency", with(func(f *intakev1.Feedback) {
			f.Order = &intakev1.Order{OrderId: "o1", Amount: &intakev1.Money{AmountMinor: 5, Currency: "usd"}}
		}), "feedback.order.amount.currency"},
		{"in the future", with(func(f *intakev1.Feedback) { f.OccurredAt = timestamppb.New(time.Now().Add(time.Hour)) }), "feedback.occurred_at"},
		{"beyond the horizon", with(func(f *intakev1.Feedback) {
			f.OccurredAt = timestamppb.New(time.Now().AddDate(-2, 0, 0))
		}), "feedback.occurred_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.SubmitFeedback(testkit.WithKey(keyA), tc.req)
			if got := testkit.FieldViolations(t, err); got[tc.field] == "" {
				t.Errorf("violations %v do not name %s", got, tc.field)
			}
		})
	}
	t.Run("oversized request", func(t *testing.T) {
		req := &intakev1.SubmitFeedbackBatchRequest{}
		for range 40 {
			fb := feedback("")
			fb.Comment.Text = strings.Repeat("x", 4000)
			req.Items = append(req.Items, fb)
		}
		if _, err := h.client.SubmitFeedbackBatch(testkit.WithKey(keyA), req); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("160 kB with a 64 kB limit: %v, want ResourceExhausted", err)
		}
	})
	t.Run("batch too large", func(t *testing.T) {
		req := &intakev1.SubmitFeedbackBatchRequest{}
		for range 501 {
			req.Items = append(req.Items, &intakev1.Feedback{CustomerId: "c", Channel: 1, Nps: proto.Int32(1)})
		}
		if got := testkit.FieldViolations(t, func() error { _, err := h.client.SubmitFeedbackBatch(testkit.WithKey(keyA), req); return err }()); got["items"] == "" {
			t.Errorf("violations %v do not name items", got)
		}
	})
	t.Run("activity without kind", func(t *testing.T) {
		_, err := h.client.RecordActivity(testkit.WithKey(keyA), &intakev1.RecordActivityRequest{Activity: &intakev1.Activity{CustomerId: "c", Channel: 1}})
		testkit.FieldViolations(t, err)
	})
	if n := len(h.stored(t)); n != 0 {
		t.Errorf("stream holds %d messages after invalid requests, want 0", n)
	}
}

func TestBatchAnswersPerItem(t *testing.T) {
	h := start(t)
	if _, err := h.client.SubmitFeedback(testkit.WithKey(keyA), &intakev1.SubmitFeedbackRequest{Feedback: feedback("seen-before")}); err != nil {
		t.Fatal(err)
	}
	bad := feedback("bad-one")
	bad.Nps = proto.Int32(42)
	req := &intakev1.SubmitFeedbackBatchRequest{Items: []*intakev1.Feedback{
		feedback("b1"), bad, feedback("seen-before"), feedback(""), feedback("b1"),
	}}
	resp, err := h.client.SubmitFeedbackBatch(testkit.WithKey(keyA), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.AcceptedCount != 2 || resp.DuplicateCount != 2 || resp.RejectedCount != 1 || resp.FailedCount != 0 {
		t.Errorf("counts = %d accepted %d duplicate %d rejected %d failed; want 2 2 1 0",
			resp.AcceptedCount, resp.DuplicateCount, resp.RejectedCount, resp.FailedCount)
	}
	r := resp.Results
	if r[0].Duplicate || r[0].Error != nil || r[0].EventId != "b1" {
		t.Errorf("item 0 = %v", r[0])
	}
	if r[1].Error.GetCode() != int32(codes.InvalidArgument) || !strings.Contains(r[1].Error.GetMessage(), "items[1].nps") {
		t.Errorf("item 1 = %v, want InvalidArgument naming items[1].nps", r[1])
	}
	if !r[2].Duplicate || !r[4].Duplicate {
		t.Errorf("items 2 and 4 = %v, %v; want duplicates", r[2], r[4])
	}
	if r[3].EventId == "" || r[3].Duplicate || r[3].Error != nil {
		t.Errorf("item 3 = %v", r[3])
	}
	if n := len(h.stored(t)); n != 3 {
		t.Errorf("stream holds %d messages, want 3", n)
	}
}

func TestRecordActivity(t *testing.T) {
	h := start(t)
	req := &intakev1.RecordActivityRequest{Activity: &intakev1.Activity{
		EventId: "purchase-1", CustomerId: "cust-1", Channel: intakev1.Channel_CHANNEL_STORE,
		Purchase: &intakev1.Purchase{OrderId: "o-1", Amount: &intakev1.Money{AmountMinor: 12999, Currency: "CNY"}, ItemCount: 2},
	}}
	for i, wantDup := range []bool{false, true} {
		resp, err := h.client.RecordActivity(testkit.WithKey(keyA), req)
		if err != nil || resp.Duplicate != wantDup || resp.EventId != "purchase-1" {
			t.Fatalf("call %d = %v, %v", i, resp, err)
		}
	}
	msgs := h.stored(t)
	if len(msgs) != 1 || msgs[0].Subject != "activity.received.tenant-a" || msgs[0].Header.Get("ce-type") != "feedloop.events.v1.ActivityReceived" {
		t.Fatalf("stored %d messages: %+v", len(msgs), msgs)
	}
	var ev eventsv1.ActivityReceived
	if err := proto.Unmarshal(msgs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Activity.GetPurchase().GetAmount().GetAmountMinor() != 12999 || ev.TenantId != "tenant-a" {
		t.Errorf("stored activity = %v", &ev)
	}
}

func TestRecordActivityBatchAnswersPerItem(t *testing.T) {
	h := start(t)
	purchase := func(id string) *intakev1.Activity {
		return &intakev1.Activity{EventId: id, CustomerId: "cust-1", Channel: intakev1.Channel_CHANNEL_WEB,
			Purchase: &intakev1.Purchase{OrderId: "o-" + id, Amount: &intakev1.Money{AmountMinor: 500, Currency: "USD"}}}
	}
	noKind := purchase("no-kind")
	noKind.Purchase = nil
	req := &intakev1.RecordActivityBatchRequest{Items: []*intakev1.Activity{purchase("a1"), noKind, purchase("a1"), purchase("a2")}}
	resp, err := h.client.RecordActivityBatch(testkit.WithKey(keyA), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.AcceptedCount != 2 || resp.DuplicateCount != 1 || resp.RejectedCount != 1 || resp.FailedCount != 0 {
		t.Errorf("counts = %d accepted %d duplicate %d rejected %d failed; want 2 1 1 0",
			resp.AcceptedCount, resp.DuplicateCount, resp.RejectedCount, resp.FailedCount)
	}
	if r := resp.Results[1]; r.Error.GetCode() != int32(codes.InvalidArgument) || !strings.Contains(r.Error.GetMessage(), "items[1]") {
		t.Errorf("item 1 = %v, want InvalidArgument naming items[1]", r)
	}
	msgs := h.stored(t)
	if len(msgs) != 2 || msgs[0].Subject != "activity.received.tenant-a" {
		t.Fatalf("stored %d messages: %+v", len(msgs), msgs)
	}
	if _, err := h.client.RecordActivityBatch(testkit.WithKey(keyA), &intakev1.RecordActivityBatchRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("an empty batch: %v, want InvalidArgument", err)
	}
}

func TestNATSDownIsUnavailableAndRetryable(t *testing.T) {
	h := start(t)
	h.nats.Shutdown()
	h.nats.WaitForShutdown()
	req := &intakev1.SubmitFeedbackRequest{Feedback: feedback("during-outage")}
	if _, err := h.client.SubmitFeedback(testkit.WithKey(keyA), req); status.Code(err) != codes.Unavailable {
		t.Fatalf("NATS down: %v, want Unavailable", err)
	}
	batch, err := h.client.SubmitFeedbackBatch(testkit.WithKey(keyA), &intakev1.SubmitFeedbackBatchRequest{Items: []*intakev1.Feedback{feedback("batch-outage")}})
	if err != nil || batch.FailedCount != 1 || batch.Results[0].Error.GetCode() != int32(codes.Unavailable) {
		t.Fatalf("batch with NATS down = %v, %v; want the item Unavailable", batch, err)
	}

	h.nats = h.nats.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := h.client.SubmitFeedback(testkit.WithKey(keyA), req)
		if err == nil {
			if resp.Duplicate {
				t.Fatal("retry after an error was answered duplicate: the event was never stored")
			}
			break
		}
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			t.Fatalf("retry: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(h.stored(t)); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

func TestRedisDownStillAccepts(t *testing.T) {
	h := start(t)
	h.redis.Stop()
	resp, err := h.client.SubmitFeedback(testkit.WithKey(keyA), &intakev1.SubmitFeedbackRequest{Feedback: feedback("no-redis")})
	if err != nil || resp.Duplicate {
		t.Fatalf("Redis down: %v, %v; want accepted (the stream is the log of record)", resp, err)
	}
	again, err := h.client.SubmitFeedback(testkit.WithKey(keyA), &intakev1.SubmitFeedbackRequest{Feedback: feedback("no-redis")})
	if err != nil || !again.Duplicate {
		t.Fatalf("repeat within the stream's window: %v, %v; want duplicate", again, err)
	}
	if n := len(h.stored(t)); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}
