package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// erased is the tombstone segmentation publishes when a customer is erased.
func erased(subjectTenant, tenant, customer string) bus.Outgoing {
	return bus.Outgoing{
		Subject: bus.Subject(bus.CustomerErased, subjectTenant),
		ID:      tenant + "/erase:" + customer,
		Msg:     &eventsv1.CustomerErased{TenantId: tenant, CustomerId: customer, ErasedAt: timestamppb.Now()},
	}
}

// TestCustomerErasedDeletesTheCustomer starts scoring before the CUSTOMERS
// stream exists (segmentation creates it, maybe later): scoring serves
// meanwhile, and honours the tombstone once the stream is there.
func TestCustomerErasedDeletesTheCustomer(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	const gone, kept = "cust-gone", "cust-kept"
	feedback := func(id, customer string) *intakev1.Feedback {
		return &intakev1.Feedback{EventId: id, CustomerId: customer, OccurredAt: timestamppb.Now(),
			Channel: intakev1.Channel_CHANNEL_WEB, Touchpoint: "delivery", Nps: proto.Int32(2)}
	}
	h.publish(t, received("tenant-a", feedback("ev-1", gone)), received("tenant-a", feedback("ev-2", kept)),
		received("tenant-b", feedback("ev-3", gone)))
	h.scored(t, 3)
	scores := func(key, customer string) error {
		_, err := h.client.GetCustomerScores(testkit.WithKey(key), &scoringv1.GetCustomerScoresRequest{CustomerId: customer})
		return err
	}
	if err := scores(keyA, gone); err != nil {
		t.Fatalf("before erasure: %v", err)
	}

	if _, err := bus.EnsureStream(ctx, h.js, h.cfg.Bus, bus.CustomersStream); err != nil {
		t.Fatal(err)
	}
	// A tombstone whose tenant is not its subject's is dead-lettered and
	// erases nothing; the valid one erases the customer of tenant a only.
	h.publish(t, erased("tenant-a", "tenant-b", gone), erased("tenant-a", "tenant-a", gone))
	deadline := time.Now().Add(20 * time.Second)
	for status.Code(scores(keyA, gone)) != codes.NotFound {
		if time.Now().After(deadline) {
			t.Fatalf("customer still found after erasure: %v", scores(keyA, gone))
		}
		time.Sleep(20 * time.Millisecond)
	}

	var keptKey bool
	iter := h.redis.Client.Scan(ctx, 0, "fl:{tenant-a}:*", 100).Iterator()
	for iter.Next(ctx) {
		if strings.Contains(iter.Val(), gone) {
			t.Errorf("key %s remains after erasure", iter.Val())
		}
		keptKey = keptKey || strings.HasSuffix(iter.Val(), ":customer:"+kept)
	}
	if err := iter.Err(); err != nil || !keptKey {
		t.Fatalf("scan: %v; found the other customer's key: %v", err, keptKey)
	}
	if err := scores(keyA, kept); err != nil {
		t.Errorf("other customer: %v", err)
	}
	if err := scores(keyB, gone); err != nil {
		t.Errorf("the same customer id in tenant b: %v", err)
	}
	if got := h.report(t).Responses; got != 2 {
		t.Errorf("report counts %d responses, want 2 (buckets are aggregates and stay)", got)
	}

	dead := testkit.WaitStream(t, h.js, "DEADLETTER", 1, 10*time.Second)
	var dl eventsv1.DeadLetter
	if err := proto.Unmarshal(dead[0].Data, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Stream != "CUSTOMERS" || dl.Consumer != "scoring-erasure" || !strings.Contains(dl.Reason, "tenant \"tenant-b\" published on customer.erased.tenant-a") {
		t.Errorf("dead letter %s/%s: %s", dl.Stream, dl.Consumer, dl.Reason)
	}
}
