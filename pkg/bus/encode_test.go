package bus

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// realistic is a feedback event as intake publishes it.
func realistic() *eventsv1.FeedbackReceived {
	now := timestamppb.New(time.Now())
	return &eventsv1.FeedbackReceived{
		TenantId:   "tenant-a",
		ReceivedAt: now,
		Feedback: &intakev1.Feedback{
			EventId:    "survey-1",
			CustomerId: "cust-1",
			OccurredAt: now,
			Channel:    intakev1.Channel_CHANNEL_APP,
			Touchpoint: "delivery",
			Nps:        proto.Int32(3),
			Csat:       proto.Int32(2),
			Servqual:   &intakev1.Servqual{Reliability: &intakev1.ServqualRating{Expectation: 7, Perception: 3}},
			Comment:    &intakev1.Comment{Text: "The parcel arrived two days late and nobody answered the phone. 送货太慢了", Language: "en"},
			Complaint:  &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY},
			Attributes: map[string]string{"region": "east", "plan": "gold"},
		},
	}
}

// BenchmarkEncode is the cost of building one bus message for a realistic
// feedback event in a batch (PublishAll): payload, message id, trace context
// and CloudEvents headers, the publish time being shared by the batch.
func BenchmarkEncode(b *testing.B) {
	p := NewPublisher(nil, "feedloop/intake")
	out := Outgoing{Subject: "feedback.received.tenant-a", ID: "tenant-a/survey-1", Msg: realistic()}
	ctx := context.Background()
	published := p.timeHeader()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.encode(ctx, out, published); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal is the yardstick for BenchmarkEncode: proto.Marshal of the
// same event and nothing else. (protobuf-go encodes maps by reflection: the two
// attributes cost about half of it.)
func BenchmarkMarshal(b *testing.B) {
	m := realistic()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
