package api

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/services/intake/internal/admit"
)

// BenchmarkValidate is intake's own CPU cost per event in a batch before it
// is encoded: the proto rules, UTF-8 and time checks, and completing the
// event. bus.BenchmarkEncode measures encoding the same event; their sum is
// the per-event cost of validation and encoding.
func BenchmarkValidate(b *testing.B) {
	valid := admit.Validator{Policy: admit.Policy{MaxAge: 365 * 24 * time.Hour, MaxSkew: 5 * time.Minute}, Now: time.Now}
	s, err := New(nil, nil, valid, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	items := make([]*intakev1.Feedback, 1000)
	for i := range items {
		items[i] = &intakev1.Feedback{
			EventId:    fmt.Sprintf("survey-%d", i),
			CustomerId: fmt.Sprintf("cust-%d", i%97),
			Channel:    intakev1.Channel_CHANNEL_APP,
			Touchpoint: "delivery",
			Nps:        proto.Int32(int32(i % 11)),
			Csat:       proto.Int32(2),
			Servqual:   &intakev1.Servqual{Reliability: &intakev1.ServqualRating{Expectation: 7, Perception: 3}},
			Comment:    &intakev1.Comment{Text: "The parcel arrived two days late and nobody answered the phone. 送货太慢了", Language: "en"},
			Complaint:  &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY},
			Attributes: map[string]string{"region": "east", "plan": "gold"},
		}
	}
	env := newEnvelope("tenant-a", bus.FeedbackReceived, time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		item := items[i%len(items)]
		if v := s.valid.Feedback(item, env.now); len(v) > 0 {
			b.Fatal(v)
		}
		env.feedback(item)
	}
}
