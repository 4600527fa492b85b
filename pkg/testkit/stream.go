package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
)

// StreamMessages returns every message the stream holds, oldest first.
func StreamMessages(tb testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// WaitStream waits until the stream holds at least n messages and returns
// them; it fails the test after timeout.
func WaitStream(tb testing.TB, js jetstream.JetStream, stream string, n int, timeout time.Duration) []*jetstream.RawStreamMsg {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := js.Stream(context.Background(), stream)
		if err == nil {
			info, err := st.Info(context.Background())
			if err == nil && info.State.Msgs >= uint64(n) {
				return StreamMessages(tb, js, stream)
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("stream %s did not reach %d messages within %s", stream, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DeadLetters waits until the DEADLETTER stream holds n messages and
// returns them by the message id of the message each one copies.
func DeadLetters(tb testing.TB, js jetstream.JetStream, n int, timeout time.Duration) map[string]*eventsv1.DeadLetter {
	tb.Helper()
	out := map[string]*eventsv1.DeadLetter{}
	for _, m := range WaitStream(tb, js, "DEADLETTER", n, timeout) {
		dl := new(eventsv1.DeadLetter)
		if err := proto.Unmarshal(m.Data, dl); err != nil {
			tb.Fatal(err)
		}
		out[dl.Headers[jetstream.MsgIDHeader]] = dl
	}
	return out
}

// PublishGarbage stores on subject, under message id id, bytes that do not
// decode as the message type ceType its header names: a poison message.
func PublishGarbage(tb testing.TB, js jetstream.JetStream, subject, ceType, id string) {
	tb.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte{0xff, 0xff, 0xff}
	m.Header.Set("ce-type", ceType)
	m.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		tb.Fatal(err)
	}
}
