package testkit

import (
	"context"

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
