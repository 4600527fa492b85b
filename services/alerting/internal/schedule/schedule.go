// Package schedule moves recovery cases on time alone: it escalates an
// open case nobody acknowledged by its deadline, announces a resolved
// case's follow-up when it falls due, and announces any change a writer
// committed but did not get to publish (the outbox of package announce).
//
// The store keeps every case by the time it must next be looked at; each
// tick takes the cases due, a bounded number per tenant. With several
// replicas one claims a tenant per tick, and every write's version check
// keeps concurrent writers (the pipeline, the API) correct anyway.
package schedule

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Config bounds the scheduler's work.
type Config struct {
	// Interval between ticks.
	Interval time.Duration
	// Batch is how many cases are read and written at once; PerTick the
	// most cases of one tenant a tick looks at.
	Batch, PerTick int
}

// Scheduler runs the ticks.
type Scheduler struct {
	cfg    Config
	store  *store.Store
	ann    *announce.Announcer
	sla    cases.SLA
	now    func() time.Time
	claims redisx.Claims
}

// New returns a scheduler; owner names this replica in its claims.
func New(cfg Config, st *store.Store, ann *announce.Announcer, sla cases.SLA, now func() time.Time, owner string, log *slog.Logger) *Scheduler {
	return &Scheduler{cfg: cfg, store: st, ann: ann, sla: sla, now: now,
		claims: st.Claims(cfg.Interval, owner, log.With("component", "schedule"))}
}

// Run ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error { return s.claims.Run(ctx, s.tenant) }

// Tick looks at the due cases of every tenant this replica claims and
// returns how many it changed or announced.
func (s *Scheduler) Tick(ctx context.Context) (int, error) { return s.claims.Tick(ctx, s.tenant) }

// tenant handles up to PerTick of tenant's due cases, a batch at a time,
// until none is due or a batch moves nothing.
func (s *Scheduler) tenant(ctx context.Context, tenant string) (int, error) {
	done, seen := 0, 0
	for seen < s.cfg.PerTick {
		now := s.now()
		ids, err := s.store.DueCases(ctx, tenant, now, min(s.cfg.Batch, s.cfg.PerTick-seen))
		if err != nil || len(ids) == 0 {
			return done, err
		}
		seen += len(ids)
		n, err := s.batch(ctx, tenant, ids, now)
		done += n
		if err != nil || n == 0 {
			return done, err
		}
	}
	return done, nil
}

// batch escalates and announces what is due among ids, and returns how
// many cases it changed or announced.
func (s *Scheduler) batch(ctx context.Context, tenant string, ids []string, now time.Time) (int, error) {
	loaded, err := s.store.Cases(ctx, tenant, ids)
	if err != nil {
		return 0, err
	}
	var writes []store.Write
	var announce []*store.Loaded
	for i := range loaded {
		l := &loaded[i]
		if l.Case == nil {
			continue
		}
		if c, ok := Advance(l.Case, now, s.sla); ok {
			writes = append(writes, store.Write{Loaded: l, New: c, Now: now})
		} else {
			// Nothing to change: announce what is pending, or just put the
			// case back on its real due time.
			announce = append(announce, l)
		}
	}
	var errs []error
	if len(writes) > 0 {
		committed, err := s.store.Commit(ctx, tenant, writes)
		errs = append(errs, err)
		for i, w := range writes {
			if err == nil && committed[i] { // else another writer changed it and announces
				announce = append(announce, w.Loaded)
			}
		}
	}
	if len(announce) > 0 {
		errs = append(errs, s.ann.Pending(ctx, tenant, announce))
	}
	n := len(announce)
	return n, errors.Join(errs...)
}

// Advance is c after what time alone does to it at now — escalation past
// the acknowledge deadline of an open case, the follow-up of a resolved
// one — and whether that changed anything; c is not modified.
func Advance(c *cases.Case, now time.Time, sla cases.SLA) (*cases.Case, bool) {
	next := c.Clone()
	switch {
	case c.State == cases.Open && now.After(c.AcknowledgeBy):
		if next.Escalate(now, sla) == nil {
			return next, true
		}
	case c.State == cases.Resolved && !c.FollowUpAt.IsZero() && !now.Before(c.FollowUpAt):
		if next.FollowUpDue(now) == nil {
			return next, true
		}
	}
	return c, false
}
