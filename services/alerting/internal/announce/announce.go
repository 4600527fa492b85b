// Package announce makes every change of a recovery case known: each entry
// of a case's history is published once to recovery.<change>.<tenant> as a
// RecoveryCaseChanged, from which WatchAlerts and the notifications are fed.
//
// It is an outbox over the case store: a writer commits a change, publishes
// the entries not yet announced, and records them announced
// (store.Announced). A writer that dies in between leaves the case due, and
// the scheduler announces it (Pending). A change's message id is the case and
// the entry's place in the history, so a repeat is dropped by the stream.
package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// ErrNotFound is the error of a change to a case that does not exist.
var ErrNotFound = errors.New("no such case")

// Announcer changes cases and announces the changes.
type Announcer struct {
	store *store.Store
	pub   *bus.Publisher
	now   func() time.Time
	log   *slog.Logger
}

// New returns an announcer; now is the clock of the changes it makes.
func New(st *store.Store, pub *bus.Publisher, now func() time.Time, log *slog.Logger) *Announcer {
	return &Announcer{store: st, pub: pub, now: now, log: log}
}

// Message announces the i-th change of c.
func Message(ctx context.Context, tenant string, c *cases.Case, i int) bus.Outgoing {
	ch := c.History[i]
	id := tenant + "/" + c.ID + "/" + strconv.Itoa(i)
	return bus.Outgoing{
		Subject: "recovery." + ch.Type.String() + "." + tenant,
		ID:      id,
		Ctx:     ctx,
		Msg: &eventsv1.RecoveryCaseChanged{
			TenantId: tenant, ChangeId: id, Type: casepb.ChangeType(ch.Type),
			Case: casepb.Case(c), Actor: casepb.Actor(ch), EventId: ch.EventID, OccurredAt: timestamppb.New(ch.At),
			Inhibited: ch.Inhibited,
		},
	}
}

// Pending publishes the changes of each case not yet announced and records
// them announced, which also puts each case back on its real due time.
// Cases whose publishes failed stay due, for a later try.
func (a *Announcer) Pending(ctx context.Context, tenant string, ls []*store.Loaded) error {
	var outs []bus.Outgoing
	var owner []int
	for i, l := range ls {
		for j := l.Announced; j < len(l.Case.History); j++ {
			outs = append(outs, Message(ctx, tenant, l.Case, j))
			owner = append(owner, i)
		}
	}
	_, errs := a.pub.PublishAll(ctx, outs)
	failed := make([]bool, len(ls))
	for j, err := range errs {
		failed[owner[j]] = failed[owner[j]] || err != nil
	}
	var done []*store.Loaded
	for i, l := range ls {
		if !failed[i] {
			done = append(done, l)
		}
	}
	if len(done) > 0 {
		errs = append(errs, a.store.Announced(ctx, tenant, done))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("announce changes of %s: %w", tenant, err)
	}
	return nil
}

// maxRounds bounds how often a change reads the case again after another
// writer changed it meanwhile.
const maxRounds = 5

// Change applies change to the case id of tenant at the announcer's clock,
// commits it and announces it. The error is ErrNotFound, change's own
// error (cases.ErrIllegalTransition, cases.ErrInvalid), store.ErrCorrupt,
// redisx.ErrContended when other writers kept changing the case, or a
// failure to reach Redis. A failure to publish is not an error: the change
// is committed, and the scheduler announces it.
func (a *Announcer) Change(ctx context.Context, tenant, id string, change func(c *cases.Case, now time.Time) error) (*cases.Case, error) {
	for range maxRounds {
		l, err := a.store.Get(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if l.Case == nil {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		now := a.now()
		c := l.Case.Clone()
		if err := change(c, now); err != nil {
			return nil, err
		}
		done, err := a.store.Commit(ctx, tenant, []store.Write{{Loaded: &l, New: c, Now: now}})
		if err != nil {
			return nil, err
		}
		if !done[0] {
			continue
		}
		if err := a.Pending(ctx, tenant, []*store.Loaded{&l}); err != nil {
			a.log.Warn("change committed, announcing it later", "case", id, "err", err)
		}
		return c, nil
	}
	return nil, redisx.ErrContended
}
