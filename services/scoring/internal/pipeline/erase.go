package pipeline

import (
	"context"
	"fmt"
	"strings"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// ErasureConsumer is the durable consumer of CustomerErased tombstones, on
// the CUSTOMERS stream (segmentation creates it).
var ErasureConsumer = bus.ConsumerSpec{
	Stream:         bus.CustomersStream,
	Durable:        "scoring-erasure",
	FilterSubjects: []string{bus.CustomerErased + ".>"},
}

// Eraser deletes what scoring holds about an erased customer.
type Eraser struct{ store *store.Store }

// NewEraser returns an eraser on st.
func NewEraser(st *store.Store) *Eraser { return &Eraser{store: st} }

// Handle is the bus.Handler of ErasureConsumer: each tombstone erases its
// customer. An invalid tombstone is dead-lettered; a Redis failure is
// retried. Erasures are rare, so each is its own round trip.
func (e *Eraser) Handle(ctx context.Context, msgs []*bus.Message) []error {
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = e.erase(ctx, m)
	}
	return errs
}

func (e *Eraser) erase(ctx context.Context, m *bus.Message) error {
	ev := new(eventsv1.CustomerErased)
	if err := bus.Decode(m, ev); err != nil {
		return err
	}
	var missing []string
	if ev.GetTenantId() == "" {
		missing = append(missing, "tenant_id")
	}
	if ev.GetCustomerId() == "" {
		missing = append(missing, "customer_id")
	}
	if len(missing) > 0 {
		return bus.Permanent(fmt.Errorf("invalid CustomerErased on %s: missing %s", m.Subject, strings.Join(missing, ", ")))
	}
	if err := bus.CheckTenant("CustomerErased", bus.CustomerErased, m.Subject, ev.GetTenantId()); err != nil {
		return err
	}
	return e.store.Erase(ctx, ev.GetTenantId(), ev.GetCustomerId())
}
