package app_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/alerting/internal/app"
)

var t0 = time.Now().UTC().Truncate(time.Millisecond)

const (
	keyA = "key-for-tenant-a-000000"
	keyB = "key-for-tenant-b-000000"
)

type harness struct {
	js     jetstream.JetStream
	pub    *bus.Publisher // publishes as segmentation would
	cfg    app.Config
	client alertingv1.AlertingServiceClient
	stack  *testkit.Stack
	stop   func()
}

// start runs alerting in-process on a real JetStream and Redis, with the
// CUSTOMERS stream created as segmentation creates it; env is more
// settings, as name, value, ...
func start(t testing.TB, env ...string) *harness {
	st := testkit.StartStack(t, keyA+"=tenant-a,"+keyB+"=tenant-b", env...)
	h := &harness{cfg: app.ConfigFromEnv(st.Env), js: st.JS, stack: st}
	if err := st.Env.Err(); err != nil {
		t.Fatal(err)
	}
	h.pub = bus.NewPublisher(h.js, "feedloop/segmentation")
	if _, err := bus.EnsureStream(context.Background(), h.js, h.cfg.Bus, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	return h
}

// run starts the service (again).
func (h *harness) run(t testing.TB) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cc *grpc.ClientConn
	cc, h.stop = testkit.RunApp(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, h.cfg, log) })
	h.client = alertingv1.NewAlertingServiceClient(cc)
}

// evaluated is scored feedback as segmentation publishes it.
func evaluated(customer, eventID string, level segmentationv1.ValueLevel, nps int32, complaint bool) bus.Outgoing {
	f := &intakev1.Feedback{EventId: eventID, CustomerId: customer, Channel: intakev1.Channel_CHANNEL_APP, Touchpoint: "delivery", Nps: proto.Int32(nps), OccurredAt: timestamppb.New(t0)}
	class := scoringv1.NpsClass_NPS_CLASS_PROMOTER
	if nps <= 6 {
		class = scoringv1.NpsClass_NPS_CLASS_DETRACTOR
	}
	if complaint {
		f.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY}
	}
	return bus.Outgoing{
		Subject: bus.Subject(bus.CustomerEvaluated, "tenant-a"),
		ID:      "tenant-a/" + eventID,
		Msg: &eventsv1.CustomerEvaluated{
			TenantId: "tenant-a", PreviousTier: "champion", PreviousChurnRisk: 0.1,
			Cause: &eventsv1.CustomerEvaluated_Feedback{Feedback: &eventsv1.FeedbackScored{
				Received: &eventsv1.FeedbackReceived{TenantId: "tenant-a", Feedback: f},
				Scores:   &scoringv1.Scores{NpsClass: class, ExperienceScore: 15},
			}},
			Profile: &segmentationv1.CustomerProfile{CustomerId: customer, Tier: "champion", ValueLevel: level,
				ChurnRisk: &segmentationv1.ChurnRisk{Score: 0.1}, UpdatedAt: timestamppb.New(t0)},
		},
	}
}

func (h *harness) publish(t testing.TB, outs ...bus.Outgoing) {
	t.Helper()
	_, errs := h.pub.PublishAll(context.Background(), outs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// waitIdle waits until alerting has acknowledged everything it was given.
func (h *harness) waitIdle(t testing.TB) {
	t.Helper()
	testkit.WaitIdle(t, h.js, 30*time.Second, testkit.Durable{Stream: "CUSTOMERS", Name: "alerting"})
}

func (h *harness) changes(t *testing.T) []*eventsv1.RecoveryCaseChanged {
	t.Helper()
	var out []*eventsv1.RecoveryCaseChanged
	for _, m := range testkit.StreamMessages(t, h.js, "RECOVERY") {
		c := new(eventsv1.RecoveryCaseChanged)
		if err := proto.Unmarshal(m.Data, c); err != nil {
			t.Fatal(err)
		}
		if want := "recovery." + strings.ToLower(strings.TrimPrefix(c.GetType().String(), "CASE_EVENT_TYPE_")) + ".tenant-a"; m.Subject != want {
			t.Errorf("subject %s, want %s", m.Subject, want)
		}
		out = append(out, c)
	}
	return out
}

func TestAHighValueDetractorOpensOneCase(t *testing.T) {
	h := start(t)
	high, low := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, segmentationv1.ValueLevel_VALUE_LEVEL_LOW
	h.publish(t, evaluated("ann", "f1", high, 2, false), evaluated("bob", "f2", low, 10, false))
	testkit.WaitStream(t, h.js, "RECOVERY", 1, 10*time.Second)
	h.waitIdle(t)
	changes := h.changes(t)
	if len(changes) != 1 {
		t.Fatalf("%d changes, want 1 (the promoter opens none): %v", len(changes), changes)
	}
	c := changes[0]
	if c.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED || c.GetEventId() != "f1" ||
		c.GetCase().GetSeverity() != alertingv1.Severity_SEVERITY_CRITICAL || c.GetCase().GetRule() != "vip-detractor-or-complaint" ||
		c.GetCase().GetCustomerId() != "ann" || c.GetCase().GetState() != alertingv1.CaseState_CASE_STATE_OPEN ||
		!c.GetCase().GetAcknowledgeBy().AsTime().Equal(t0.Add(15*time.Minute)) || c.GetCase().GetSummary() == "" {
		t.Errorf("opened = %v", c)
	}

	// The same event delivered again under another message id changes
	// nothing; a complaint attaches to the case.
	again := evaluated("ann", "f1", high, 2, false)
	again.ID = "tenant-a/f1-again"
	h.publish(t, again, evaluated("ann", "f3", high, 5, true))
	testkit.WaitStream(t, h.js, "RECOVERY", 2, 10*time.Second)
	h.waitIdle(t)
	changes = h.changes(t)
	if len(changes) != 2 {
		t.Fatalf("%d changes, want 2: %v", len(changes), changes)
	}
	u := changes[1]
	if u.GetType() != alertingv1.CaseEventType_CASE_EVENT_TYPE_UPDATED || u.GetEventId() != "f3" ||
		u.GetCase().GetCaseId() != c.GetCase().GetCaseId() || u.GetCase().GetEventCount() != 2 {
		t.Errorf("updated = %v", u)
	}
}
