package bus

import (
	"context"
	"fmt"
	"strings"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
)

// ErasureConsumer is a service's durable consumer of the CustomerErased
// tombstones segmentation publishes on the CUSTOMERS stream.
func ErasureConsumer(durable string) ConsumerSpec {
	return ConsumerSpec{Stream: CustomersStream, Durable: durable, FilterSubjects: []string{CustomerErased + ".>"}}
}

// Erasures is the Handler of an erasure consumer: each tombstone calls
// erase with its tenant and customer. An invalid tombstone is
// dead-lettered; a failure of erase is retried. Erasures are rare, so each
// is handled on its own.
func Erasures(erase func(ctx context.Context, tenant, customer string) error) Handler {
	return func(ctx context.Context, msgs []*Message) []error {
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			ev := new(eventsv1.CustomerErased)
			if errs[i] = Decode(m, ev); errs[i] != nil {
				continue
			}
			var missing []string
			if ev.GetTenantId() == "" {
				missing = append(missing, "tenant_id")
			}
			if ev.GetCustomerId() == "" {
				missing = append(missing, "customer_id")
			}
			if len(missing) > 0 {
				errs[i] = Permanent(fmt.Errorf("invalid CustomerErased on %s: missing %s", m.Subject, strings.Join(missing, ", ")))
				continue
			}
			if errs[i] = CheckTenant("CustomerErased", CustomerErased, m.Subject, ev.GetTenantId()); errs[i] != nil {
				continue
			}
			errs[i] = erase(m.Ctx, ev.GetTenantId(), ev.GetCustomerId())
		}
		return errs
	}
}
