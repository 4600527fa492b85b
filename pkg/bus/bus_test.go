package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testConfig() bus.Config {
	cfg := bus.DefaultConfig()
	cfg.BatchSize = 20
	cfg.MaxDeliver = 3
	cfg.RetryBase = 10 * time.Millisecond
	cfg.RetryMax = 40 * time.Millisecond
	return cfg
}

type env struct {
	js  jetstream.JetStream
	pub *bus.Publisher
	cfg bus.Config
}

func setup(t *testing.T) env {
	t.Helper()
	s := testkit.StartJetStream(t)
	cfg := testConfig()
	cfg.URL = s.ClientURL()
	nc, js, err := bus.Connect(cfg, "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := bus.EnsureStream(context.Background(), js, cfg, bus.FeedbackStream); err != nil {
		t.Fatal(err)
	}
	return env{js: js, pub: bus.NewPublisher(js, "feedloop/test"), cfg: cfg}
}

func feedback(tenant, id string) bus.Outgoing {
	return bus.Outgoing{
		Subject: bus.Subject(bus.FeedbackReceived, tenant),
		ID:      tenant + "/" + id,
		Msg: &eventsv1.FeedbackReceived{TenantId: tenant, Feedback: &intakev1.Feedback{
			EventId: id, CustomerId: "c1", Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(9),
		}},
	}
}

// traced returns a context carrying a remote span, as a gRPC handler's
// context does, with the W3C propagator installed as telemetry.Setup does.
func traced() (context.Context, trace.TraceID) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true,
	})), traceID
}

func TestEnsureStreamIsIdempotent(t *testing.T) {
	e := setup(t)
	st, err := bus.EnsureStream(context.Background(), e.js, e.cfg, bus.FeedbackStream)
	if err != nil {
		t.Fatalf("second EnsureStream: %v", err)
	}
	c := st.CachedInfo().Config
	if c.Storage != jetstream.FileStorage || c.Duplicates < 2*time.Minute || c.MaxAge != 30*24*time.Hour {
		t.Errorf("stream config = storage %v, duplicates %v, max age %v", c.Storage, c.Duplicates, c.MaxAge)
	}
}

func TestPublishSetsHeadersAndDeduplicates(t *testing.T) {
	e := setup(t)
	ctx, _ := traced()

	out := feedback("acme", "e1")
	ack, err := e.pub.Publish(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate || ack.Stream != "FEEDBACK" {
		t.Fatalf("ack = %+v", ack)
	}
	again, err := e.pub.Publish(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Sequence != ack.Sequence {
		t.Fatalf("repeat ack = %+v, want duplicate of seq %d", again, ack.Sequence)
	}

	st, _ := e.js.Stream(ctx, "FEEDBACK")
	raw, err := st.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "feedback.received.acme" {
		t.Errorf("subject = %q", raw.Subject)
	}
	want := map[string]string{
		"Nats-Msg-Id":    "acme/e1",
		"ce-specversion": "1.0",
		"ce-type":        "feedloop.events.v1.FeedbackReceived",
		"ce-source":      "feedloop/test",
		"ce-id":          "acme/e1",
		"content-type":   "application/protobuf",
	}
	for k, v := range want {
		if got := raw.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, raw.Header.Get("ce-time")); err != nil {
		t.Errorf("ce-time: %v", err)
	}
	if tp := raw.Header.Get("traceparent"); tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent = %q", tp)
	}
	var got eventsv1.FeedbackReceived
	if err := proto.Unmarshal(raw.Data, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, out.Msg) {
		t.Errorf("payload = %v, want %v", &got, out.Msg)
	}
}

func TestPublishAll(t *testing.T) {
	e := setup(t)
	var outs []bus.Outgoing
	for i := range 300 {
		outs = append(outs, feedback("acme", fmt.Sprint(i%250))) // 50 repeats
	}
	// Each message may carry its own trace context.
	var traceID trace.TraceID
	outs[7].Ctx, traceID = traced()
	acks, errs := e.pub.PublishAll(context.Background(), outs)
	dups := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("item %d: %v", i, errs[i])
		}
		if acks[i].Duplicate {
			dups++
		}
	}
	if dups != 50 {
		t.Errorf("duplicates = %d, want 50", dups)
	}
	st, _ := e.js.Stream(context.Background(), "FEEDBACK")
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 250 {
		t.Errorf("stream holds %d messages, want 250", info.State.Msgs)
	}
	for i, want := range map[int]bool{7: true, 8: false} {
		raw, err := st.GetMsg(context.Background(), acks[i].Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(raw.Header.Get("traceparent"), traceID.String()); got != want {
			t.Errorf("message %d: traceparent %q carries trace %s: %v, want %v", i, raw.Header.Get("traceparent"), traceID, got, want)
		}
	}
}

func TestPublishFailsWhenNATSIsDown(t *testing.T) {
	s := testkit.StartJetStream(t)
	cfg := testConfig()
	cfg.URL = s.ClientURL()
	cfg.PublishTimeout = 500 * time.Millisecond
	nc, js, err := bus.Connect(cfg, "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := bus.EnsureStream(context.Background(), js, cfg, bus.FeedbackStream); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	pub := bus.NewPublisher(js, "feedloop/test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, feedback("acme", "x")); err == nil {
		t.Error("Publish succeeded with NATS down")
	}
	_, errs := pub.PublishAll(ctx, []bus.Outgoing{feedback("acme", "y")})
	if errs[0] == nil {
		t.Error("PublishAll succeeded with NATS down")
	}
}

// newConsumer is the durable consumer "test" on the FEEDBACK stream.
func newConsumer(t *testing.T, e env) *bus.Consumer {
	t.Helper()
	c, err := bus.NewConsumer(context.Background(), e.js, e.cfg, bus.ConsumerSpec{
		Stream: bus.FeedbackStream, Durable: "test",
	}, e.pub, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run consumes with h until every message was acked or dead-lettered, then
// stops the consumer and waits for it to drain.
func run(t *testing.T, e env, h bus.Handler) {
	t.Helper()
	c := newConsumer(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	cons, _ := e.js.Consumer(context.Background(), "FEEDBACK", "test")
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := cons.Info(context.Background())
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer did not settle: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunFailsWhenTheConsumerIsDeleted(t *testing.T) {
	e := setup(t)
	c := newConsumer(t, e)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(context.Background(), func(_ context.Context, msgs []*bus.Message) []error { return make([]error, len(msgs)) })
	}()
	time.Sleep(200 * time.Millisecond)
	if err := e.js.DeleteConsumer(context.Background(), "FEEDBACK", "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run returned nil after its consumer was deleted")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run kept running after its consumer was deleted")
	}
}

func publishN(t *testing.T, e env, n int) {
	t.Helper()
	var outs []bus.Outgoing
	for i := range n {
		outs = append(outs, feedback("acme", fmt.Sprint(i)))
	}
	if _, errs := e.pub.PublishAll(context.Background(), outs); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
}

func TestConsumeMicroBatches(t *testing.T) {
	e := setup(t)
	ctx, traceID := traced()
	if _, err := e.pub.Publish(ctx, feedback("acme", "traced")); err != nil {
		t.Fatal(err)
	}
	publishN(t, e, 499)
	var mu sync.Mutex
	seen := map[string]int{}
	largest := 0
	var inFlight, mostInFlight atomic.Int32
	run(t, e, func(_ context.Context, msgs []*bus.Message) []error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := mostInFlight.Load(); n > m && !mostInFlight.CompareAndSwap(m, n); m = mostInFlight.Load() {
		}
		time.Sleep(2 * time.Millisecond) // as a Redis round trip would
		mu.Lock()
		defer mu.Unlock()
		largest = max(largest, len(msgs))
		for _, m := range msgs {
			id := m.Header.Get("Nats-Msg-Id")
			seen[id]++
			// The publisher's trace continues in the consumer.
			if got := trace.SpanContextFromContext(m.Ctx).TraceID(); (id == "acme/traced") != (got == traceID) {
				t.Errorf("%s: trace id %s in the handler's context", id, got)
			}
		}
		return make([]error, len(msgs))
	})
	if len(seen) != 500 {
		t.Errorf("handled %d distinct messages, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", id, n)
		}
	}
	if largest < 2 || largest > e.cfg.BatchSize {
		t.Errorf("largest batch = %d, want 2..%d", largest, e.cfg.BatchSize)
	}
	if got := mostInFlight.Load(); got < 2 || got > int32(e.cfg.Workers) {
		t.Errorf("at most %d batches were handled at once, want 2..%d", got, e.cfg.Workers)
	}
}

func deadLetters(t *testing.T, e env) []*eventsv1.DeadLetter {
	t.Helper()
	var out []*eventsv1.DeadLetter
	for _, raw := range testkit.StreamMessages(t, e.js, "DEADLETTER") {
		var dl eventsv1.DeadLetter
		if err := proto.Unmarshal(raw.Data, &dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, &dl)
	}
	return out
}

func TestRetryPoisonAndPanic(t *testing.T) {
	e := setup(t)
	publishN(t, e, 40)
	var mu sync.Mutex
	acked := map[string]uint64{} // msg id -> delivery that succeeded
	run(t, e, func(_ context.Context, msgs []*bus.Message) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			switch id := m.Header.Get("Nats-Msg-Id"); id {
			case "acme/1": // fails once, then succeeds
				if m.Deliveries == 1 {
					errs[i] = errors.New("redis unavailable")
				}
			case "acme/2":
				errs[i] = bus.Permanent(errors.New("cannot decode"))
			case "acme/3": // never succeeds
				errs[i] = errors.New("still down")
			case "acme/4":
				panic("boom")
			}
			if errs[i] == nil {
				acked[m.Header.Get("Nats-Msg-Id")] = m.Deliveries
			}
		}
		return errs
	})
	if got := acked["acme/1"]; got != 2 {
		t.Errorf("acme/1 succeeded on delivery %d, want 2", got)
	}
	if len(acked) != 37 {
		t.Errorf("%d messages acked, want 37", len(acked))
	}
	reasons := map[string]string{}
	for _, dl := range deadLetters(t, e) {
		reasons[dl.Headers["Nats-Msg-Id"]] = dl.Reason
		if dl.Stream != "FEEDBACK" || dl.Consumer != "test" || dl.Subject != "feedback.received.acme" || len(dl.Data) == 0 {
			t.Errorf("dead letter = %v", dl)
		}
	}
	want := map[string]string{
		"acme/2": "cannot decode",
		"acme/3": "gave up after 3 deliveries: still down",
		"acme/4": "handler panic: boom",
	}
	if len(reasons) != len(want) {
		t.Errorf("dead letters = %v, want %v", reasons, want)
	}
	for id, r := range want {
		if reasons[id] != r {
			t.Errorf("dead letter %s reason = %q, want %q", id, reasons[id], r)
		}
	}
}

// TestRetryAfterDelaysAsAsked: a handler's RetryAfter replaces the
// consumer's back-off (10 ms here) with its own delay.
func TestRetryAfterDelaysAsAsked(t *testing.T) {
	e := setup(t)
	publishN(t, e, 1)
	var mu sync.Mutex
	var at []time.Time
	run(t, e, func(_ context.Context, msgs []*bus.Message) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			at = append(at, time.Now())
			if m.Deliveries == 1 {
				errs[i] = bus.RetryAfter(errors.New("receiver busy"), 500*time.Millisecond)
			}
		}
		return errs
	})
	if len(at) != 2 {
		t.Fatalf("%d deliveries, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 500*time.Millisecond {
		t.Errorf("redelivered after %s, want at least the 500ms asked", gap)
	}
	if dl := deadLetters(t, e); len(dl) != 0 {
		t.Errorf("dead letters %v", dl)
	}
}

// TestRunDrainsOnCancel stops a consumer while messages are buffered and
// in flight, then starts it again: every message is handled exactly once.
// (Messages on the wire when the drain unsubscribes are not seen by this
// run; the server redelivers them after AckWait.)
func TestRunDrainsOnCancel(t *testing.T) {
	e := setup(t)
	e.cfg.AckWait = time.Second
	publishN(t, e, 300)
	var mu sync.Mutex
	seen := map[string]int{}
	handle := func(_ context.Context, msgs []*bus.Message) []error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen[m.Header.Get("Nats-Msg-Id")]++
		}
		time.Sleep(5 * time.Millisecond)
		return make([]error, len(msgs))
	}
	c := newConsumer(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Run(ctx, func(ctx context.Context, msgs []*bus.Message) []error {
		cancel() // shut down while messages are buffered
		return handle(ctx, msgs)
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	handled := len(seen)
	mu.Unlock()
	if handled == 0 || handled == 300 {
		t.Fatalf("first run handled %d messages, want a partial run", handled)
	}
	run(t, e, handle)
	if len(seen) != 300 {
		t.Errorf("%d distinct messages handled, want 300", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", id, n)
		}
	}
}
