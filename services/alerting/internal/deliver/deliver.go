// Package deliver carries case changes to the receivers, durably and at
// least once, in two stages with the DELIVERY stream between them:
//
//   - The dispatcher consumes every change on RECOVERY, routes it with the
//     routing tree (an escalation also reaches its level's receiver), and
//     publishes one delivery per receiver on delivery.<receiver>.<tenant>,
//     with the change as payload and <change id>/<receiver> as message id.
//     Inhibited updates are not delivered.
//   - The sender consumes DELIVERY, one consumer per receiver, and makes
//     one attempt per delivery:
//     success or a receiver that does not take the event acks; a failure a
//     retry can fix (network, 429, 5xx) is retried after an exponential
//     back-off with jitter (or the receiver's Retry-After), until the
//     consumer's MaxDeliver, then dead-lettered; any other failure is
//     dead-lettered at once. Each receiver has a rate limit. Every attempt is
//     recorded with the case (the notification history) before the delivery
//     is acked, so a restart loses neither a delivery nor its record.
//
// One delivery per receiver means a slow or failing receiver delays and
// retries only its own notifications.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/notify"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// DispatchConsumer reads every case change.
var DispatchConsumer = bus.ConsumerSpec{Stream: bus.RecoveryStream, Durable: "alerting-dispatch"}

// SendConsumer reads the deliveries to one receiver. Each receiver has its
// own consumer, so a slow or rate-limited receiver holds back only its own
// deliveries, and they wait in the stream, not in the service.
func SendConsumer(receiver string) bus.ConsumerSpec {
	return bus.ConsumerSpec{Stream: bus.DeliveryStream, Durable: "alerting-deliver-" + receiver,
		FilterSubjects: []string{"delivery." + receiver + ".>"}}
}

// SendBus is the consumer settings of a receiver's SendConsumer: batches
// of at most half a second of its rate limit, one at a time, so that no
// delivery waits for the rate limit longer than half a second (within the
// attempt's timeout, at least 1 s) and the rest wait in the stream;
// attempts bound the deliveries of a notification.
func SendBus(cfg bus.Config, perSecond float64, attempts int) bus.Config {
	cfg.BatchSize = max(1, min(cfg.BatchSize, int(math.Ceil(perSecond/2))))
	cfg.Workers = 1
	cfg.MaxDeliver = attempts
	return cfg
}

// Receivers are the receivers of change c of a case, in routing order, each
// once: those the tree routes the case to, and for an escalation the
// receiver of its level. None for an inhibited update.
func Receivers(tree *routing.Tree, c *eventsv1.RecoveryCaseChanged) []string {
	if c.GetInhibited() {
		return nil
	}
	k := c.GetCase()
	out := tree.Route(routing.Attributes{
		Severity: alert.Severity(k.GetSeverity()), Tier: k.GetTier(), ValueLevel: casepb.ValueLevelName(k.GetValueLevel()),
		Channel: k.GetChannel(), Touchpoint: k.GetTouchpoint(), Labels: k.GetLabels(),
	})
	if c.GetType() == alertingv1.CaseEventType_CASE_EVENT_TYPE_ESCALATED {
		if r, ok := tree.Escalation(int(k.GetEscalationLevel())); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Dispatcher fans case changes out to their receivers' deliveries.
type Dispatcher struct {
	tree *routing.Tree
	// enabled are the receivers configured in this deployment; routes to
	// others are dropped (logged at start-up).
	enabled map[string]bool
	pub     *bus.Publisher
}

// NewDispatcher returns a dispatcher delivering to the enabled receivers.
func NewDispatcher(tree *routing.Tree, enabled map[string]bool, pub *bus.Publisher) *Dispatcher {
	return &Dispatcher{tree: tree, enabled: enabled, pub: pub}
}

// Handle is the bus.Handler of DispatchConsumer.
func (d *Dispatcher) Handle(ctx context.Context, msgs []*bus.Message) []error {
	outs := make([][]bus.Outgoing, len(msgs))
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		c := new(eventsv1.RecoveryCaseChanged)
		if errs[i] = bus.Decode(m, c); errs[i] != nil {
			continue
		}
		tenant := c.GetTenantId()
		if errs[i] = bus.CheckTenant("change", "recovery."+subjectToken(m.Subject, 1), m.Subject, tenant); errs[i] != nil {
			continue
		}
		for _, r := range Receivers(d.tree, c) {
			if d.enabled[r] {
				outs[i] = append(outs[i], bus.Outgoing{
					Subject: "delivery." + r + "." + tenant, ID: c.GetChangeId() + "/" + r, Ctx: m.Ctx, Msg: c,
				})
			}
		}
	}
	return d.pub.Settle(ctx, outs, errs)
}

// subjectToken is the i-th dot-separated token of subject, "" if none.
func subjectToken(subject string, i int) string {
	parts := strings.Split(subject, ".")
	if i < len(parts) {
		return parts[i]
	}
	return ""
}

// Config bounds the sender's attempts.
type Config struct {
	// BackoffBase and BackoffMax bound the back-off between attempts at
	// one delivery.
	BackoffBase, BackoffMax time.Duration
	// Timeout bounds one attempt, the wait for the rate limit included;
	// it must stay well below the consumer's AckWait.
	Timeout time.Duration
}

// Sender makes the attempts.
type Sender struct {
	senders map[string]notify.Sender // by receiver, each rate-limited
	store   *store.Store
	cfg     Config
	now     func() time.Time
}

// NewSender returns a sender through senders, by receiver name.
func NewSender(senders map[string]notify.Sender, st *store.Store, cfg Config, now func() time.Time) *Sender {
	return &Sender{senders: senders, store: st, cfg: cfg, now: now}
}

// Handle is the bus.Handler of each SendConsumer: every delivery of the
// batch is attempted at once (the receiver's rate limit paces them), the
// attempts are recorded, then each is settled.
func (s *Sender) Handle(ctx context.Context, msgs []*bus.Message) []error {
	errs := make([]error, len(msgs))
	attempts := make([]*store.Attempt, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attempts[i], errs[i] = s.attempt(ctx, m)
		}()
	}
	wg.Wait()
	byTenant := map[string][]store.Attempt{}
	owners := map[string][]int{}
	for i, a := range attempts {
		if a != nil {
			byTenant[a.Tenant] = append(byTenant[a.Tenant], *a)
			owners[a.Tenant] = append(owners[a.Tenant], i)
		}
	}
	for tenant, as := range byTenant {
		if err := s.store.RecordAttempts(ctx, tenant, as); err != nil {
			// Without its record the attempt is made again: at least once,
			// for the notification and its history alike.
			for _, i := range owners[tenant] {
				errs[i] = err
			}
		}
	}
	return errs
}

// attempt delivers m once. It returns the record of the attempt (nil when
// none was made) and the delivery's outcome for the consumer.
func (s *Sender) attempt(ctx context.Context, m *bus.Message) (*store.Attempt, error) {
	receiver, tenant := subjectToken(m.Subject, 1), subjectToken(m.Subject, 2)
	c := new(eventsv1.RecoveryCaseChanged)
	if err := bus.Decode(m, c); err != nil {
		return nil, err
	}
	if err := bus.CheckTenant("delivery", "delivery."+receiver, m.Subject, c.GetTenantId()); err != nil {
		return nil, err
	}
	send, ok := s.senders[receiver]
	if !ok {
		return nil, bus.Permanent(fmt.Errorf("receiver %q is not configured in this deployment", receiver))
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err := send.Send(actx, Notification(c))
	cancel()
	a := &store.Attempt{
		Tenant: tenant, CaseID: c.GetCase().GetCaseId(), ChangeID: c.GetChangeId(),
		Change: cases.ChangeType(c.GetType()), Receiver: receiver, Number: int(m.Deliveries), At: s.now(),
	}
	switch retry, after := notify.Retryable(err); {
	case err == nil:
		a.Outcome = store.Sent
	case errors.Is(err, notify.ErrSkipped):
		a.Outcome = store.Skipped
		return a, nil
	case retry:
		a.Outcome, a.Error = store.Failed, err.Error()
		wait := max(notify.Backoff(int(m.Deliveries), s.cfg.BackoffBase, s.cfg.BackoffMax, nil), after)
		return a, bus.RetryAfter(err, wait)
	default:
		a.Outcome, a.Error = store.Failed, err.Error()
		return a, bus.Permanent(err)
	}
	return a, nil
}

// Notification is what a receiver is told of change c.
func Notification(c *eventsv1.RecoveryCaseChanged) notify.Notification {
	k := c.GetCase()
	return notify.Notification{
		CaseID: k.GetCaseId(), CustomerID: k.GetCustomerId(), Tenant: c.GetTenantId(),
		Event:    cases.ChangeType(c.GetType()).String(),
		Severity: alert.Severity(k.GetSeverity()), Summary: k.GetSummary(),
		Tier: k.GetTier(), ValueLevel: casepb.ValueLevelName(k.GetValueLevel()),
		Labels: k.GetLabels(), Rule: k.GetRule(), Time: c.GetOccurredAt().AsTime(),
	}
}
