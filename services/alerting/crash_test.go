package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// TestAKillMidDeliveryLosesNoNotification kills the service (SIGKILL) while
// its webhook request is in flight, starts it again, and sees the
// notification delivered: the delivery was never acked, so JetStream gives
// it to the new process once the ack wait passes.
func TestAKillMidDeliveryLosesNoNotification(t *testing.T) {
	st := testkit.StartStack(t, "feedloop-dev-key=demo")
	cfg := bus.ConfigFromEnv(config.FromMap(nil))
	if _, err := bus.EnsureStream(context.Background(), st.JS, cfg, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := len(ids) == 0
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
		arrived <- struct{}{}
		if first {
			<-release // in flight until the test ends: the service dies meanwhile
		}
	}))
	defer hook.Close()
	defer close(release)

	bin := testkit.Build(t, ".")
	env := []string{
		"FEEDLOOP_NATS_URL=" + st.NATS.ClientURL(), "FEEDLOOP_REDIS_URL=" + st.Redis.URL,
		"FEEDLOOP_API_KEYS=feedloop-dev-key=demo", "FEEDLOOP_METRICS_ADDR=",
		"FEEDLOOP_CONSUMER_ACK_WAIT=2s", "FEEDLOOP_ALERTING_DELIVERY_TIMEOUT=1s",
		"FEEDLOOP_ALERTING_WEBHOOK_URL=" + hook.URL, "FEEDLOOP_ALERTING_WEBHOOK_SECRET=whsec_c2VjcmV0",
	}
	run := func() *testkit.Process {
		addr := testkit.FreeAddr(t)
		p := testkit.Start(t, bin, append(env, "FEEDLOOP_GRPC_ADDR="+addr)...)
		testkit.WaitServing(t, addr, "", 30*time.Second)
		return p
	}
	first := run()
	pub := bus.NewPublisher(st.JS, "feedloop/segmentation")
	if _, err := pub.Publish(context.Background(), vipDetractor()); err != nil {
		t.Fatal(err)
	}
	wait := func(what string) {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("no webhook request %s within 30s", what)
		}
	}
	wait("before the kill")
	first.Kill()
	run()
	wait("after the restart")
	testkit.WaitIdle(t, st.JS, 30*time.Second, testkit.Durable{Stream: "DELIVERY", Name: "alerting-deliver-webhook"})
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
		t.Errorf("webhook ids %v, want the same notification twice: in flight at the kill, then delivered", ids)
	}
	if dl := testkit.StreamMessages(t, st.JS, "DEADLETTER"); len(dl) != 0 {
		t.Errorf("%d dead letters", len(dl))
	}
}

func vipDetractor() bus.Outgoing {
	now := timestamppb.Now()
	f := &intakev1.Feedback{EventId: "f1", CustomerId: "ann", Channel: intakev1.Channel_CHANNEL_APP, Nps: proto.Int32(2), OccurredAt: now}
	return bus.Outgoing{
		Subject: bus.Subject(bus.CustomerEvaluated, "demo"), ID: "demo/f1",
		Msg: &eventsv1.CustomerEvaluated{
			TenantId: "demo", PreviousTier: "champion",
			Cause: &eventsv1.CustomerEvaluated_Feedback{Feedback: &eventsv1.FeedbackScored{
				Received: &eventsv1.FeedbackReceived{TenantId: "demo", Feedback: f},
				Scores:   &scoringv1.Scores{NpsClass: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, ExperienceScore: 15},
			}},
			Profile: &segmentationv1.CustomerProfile{CustomerId: "ann", Tier: "champion",
				ValueLevel: segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, UpdatedAt: now},
		},
	}
}
