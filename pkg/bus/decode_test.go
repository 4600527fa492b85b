package bus_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
)

func message(ceType string, data []byte) *bus.Message {
	return &bus.Message{Subject: "feedback.received.acme", Data: data, Header: nats.Header{bus.HeaderType: {ceType}}}
}

func TestDecode(t *testing.T) {
	good, _ := proto.Marshal(feedback("acme", "e1").Msg)
	for _, tc := range []struct {
		name      string
		ceType    string
		data      []byte
		permanent bool
	}{
		{"valid", "feedloop.events.v1.FeedbackReceived", good, false},
		{"wrong type", "feedloop.events.v1.ActivityReceived", good, true},
		{"no type", "", good, true},
		{"garbage", "feedloop.events.v1.FeedbackReceived", []byte{0xff, 0xff, 0xff}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev eventsv1.FeedbackReceived
			err := bus.Decode(message(tc.ceType, tc.data), &ev)
			if bus.IsPermanent(err) != tc.permanent || (err == nil) == tc.permanent {
				t.Fatalf("Decode = %v, want permanent error: %v", err, tc.permanent)
			}
			if err == nil && ev.Feedback.GetEventId() != "e1" {
				t.Errorf("decoded %v", &ev)
			}
		})
	}
}

// FuzzDecode feeds arbitrary payloads to the decoder every consumer uses: it
// must never panic, must mark every failure Permanent (so the message is
// dead-lettered, not retried forever), and what it accepts must survive a
// round trip.
//
//	go test -fuzz FuzzDecode -fuzztime 5m ./bus
func FuzzDecode(f *testing.F) {
	for _, id := range []string{"e1", "a-much-longer-event-id"} {
		b, _ := proto.Marshal(feedback("acme", id).Msg)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev eventsv1.FeedbackReceived
		err := bus.Decode(message("feedloop.events.v1.FeedbackReceived", data), &ev)
		if err != nil {
			if !bus.IsPermanent(err) {
				t.Fatalf("decode error not permanent: %v", err)
			}
			return
		}
		again, err := proto.Marshal(&ev)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var back eventsv1.FeedbackReceived
		if err := proto.Unmarshal(again, &back); err != nil || !proto.Equal(&ev, &back) {
			t.Fatalf("round trip changed the message: %v", err)
		}
	})
}
