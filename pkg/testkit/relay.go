package testkit

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedloop/feedloop/pkg/bus"
)

// Relay is a bus.Handler that does no work: it publishes each message's
// payload to subject under the same message id and reports the outcome, so
// a consumer running it is the bare cost of consume → publish → ack. The
// pipeline benchmarks run it beside the real service to show the ratio.
func Relay(js jetstream.JetStream, subject string) bus.Handler {
	return func(_ context.Context, msgs []*bus.Message) []error {
		futures := make([]jetstream.PubAckFuture, len(msgs))
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			out := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{jetstream.MsgIDHeader: m.Header[jetstream.MsgIDHeader]}}
			futures[i], errs[i] = js.PublishMsgAsync(out)
		}
		for i, f := range futures {
			if f != nil {
				select {
				case <-f.Ok():
				case errs[i] = <-f.Err():
				}
			}
		}
		return errs
	}
}

// RunRelay runs Relay on a durable consumer spec, publishing to subject,
// until the returned stop is called (or the test ends).
func RunRelay(tb testing.TB, js jetstream.JetStream, cfg bus.Config, spec bus.ConsumerSpec, subject string) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	cons, err := bus.NewConsumer(ctx, js, cfg, spec, bus.NewPublisher(js, "relay"), log)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx, Relay(js, subject)) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("relay: %v", err)
		}
	})
	tb.Cleanup(stop)
	return stop
}

// Durable names a durable consumer: its stream and its name.
type Durable struct{ Stream, Name string }

// WaitIdle waits until every consumer has no message pending or
// unacknowledged, failing the test after timeout, and returns how long
// that took.
func WaitIdle(tb testing.TB, js jetstream.JetStream, timeout time.Duration, consumers ...Durable) time.Duration {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	idle := func() bool {
		for _, c := range consumers {
			cons, err := js.Consumer(ctx, c.Stream, c.Name)
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		return true
	}
	for !idle() {
		if time.Since(start) > timeout {
			for _, c := range consumers {
				if cons, err := js.Consumer(ctx, c.Stream, c.Name); err == nil {
					info, _ := cons.Info(ctx)
					tb.Logf("%s/%s: %+v", c.Stream, c.Name, info)
				}
			}
			tb.Fatalf("consumers not idle within %s (above)", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
