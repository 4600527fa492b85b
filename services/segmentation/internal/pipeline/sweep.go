package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
)

// SweepConfig bounds the sweep's work.
type SweepConfig struct {
	// Interval between ticks.
	Interval time.Duration
	// Batch is how many customers are read and written at once; PerTick
	// the most customers of one tenant a tick evaluates.
	Batch, PerTick int
}

// Sweeper re-evaluates customers whom time alone moves: a customer who
// stops buying slides to at-risk and then lapsed without any event. Each
// evaluation records when the customer is next due (a recency or lifecycle
// boundary, at the latest a day later) in a sorted set; a tick evaluates
// the customers due, a bounded number per tenant, and publishes the tier
// changes. With several replicas, one claims a tenant per tick, and the
// version check of every write keeps concurrent writers correct anyway.
// A change is committed pending (and the customer due at once), published,
// then cleared: after a crash in between, the next tick publishes it again.
type Sweeper struct {
	cfg    SweepConfig
	eval   *segment.Evaluator
	store  *store.Store
	pub    *bus.Publisher
	now    func() time.Time
	claims redisx.Claims
}

// NewSweeper returns a sweeper; owner names this replica in its claims.
func NewSweeper(cfg SweepConfig, eval *segment.Evaluator, st *store.Store, pub *bus.Publisher, now func() time.Time, owner string, log *slog.Logger) *Sweeper {
	return &Sweeper{cfg: cfg, eval: eval, store: st, pub: pub, now: now, claims: st.Claims(cfg.Interval, owner, log.With("component", "sweep"))}
}

// Run ticks until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error { return s.claims.Run(ctx, s.sweep) }

// Tick sweeps every tenant this replica can claim and returns how many
// customers it evaluated.
func (s *Sweeper) Tick(ctx context.Context) (int, error) { return s.claims.Tick(ctx, s.sweep) }

// sweep evaluates up to PerTick of tenant's due customers.
func (s *Sweeper) sweep(ctx context.Context, tenant string) (int, error) {
	done := 0
	for done < s.cfg.PerTick {
		now := s.now()
		ids, err := s.store.Due(ctx, tenant, now, min(s.cfg.Batch, s.cfg.PerTick-done))
		if err != nil || len(ids) == 0 {
			return done, err
		}
		if err := s.evaluate(ctx, tenant, ids, now); err != nil {
			return done, err
		}
		done += len(ids)
	}
	return done, nil
}

// evaluate re-evaluates customers, commits, publishes their tier changes
// (with any a writer before left pending) and clears those published.
func (s *Sweeper) evaluate(ctx context.Context, tenant string, ids []string, now time.Time) error {
	loaded, err := s.store.Load(ctx, tenant, ids, nil)
	if err != nil {
		return err
	}
	cause := "sweep-" + strconv.FormatInt(now.UnixMilli(), 10)
	var writes []store.Write
	for i, id := range ids {
		l := &loaded[i]
		if !l.Found || l.Corrupt != nil { // erased since it was listed, or unreadable
			continue
		}
		r, _, _ := s.eval.Reevaluate(tenant, l.Record, now, cause)
		writes = append(writes, store.Write{Customer: id, Loaded: l, New: &r, Now: now})
	}
	if len(writes) == 0 {
		return nil
	}
	committed, err := s.store.Commit(ctx, tenant, writes)
	if err != nil {
		return err
	}
	// A customer another writer changed meanwhile is left to that writer.
	outs := make([][]bus.Outgoing, len(writes))
	for i, w := range writes {
		if committed[i] {
			for _, c := range w.New.Pending {
				outs[i] = append(outs[i], tierChanged(ctx, tenant, w.Customer, s.eval, c))
			}
		}
	}
	failed := s.pub.Settle(ctx, outs, make([]error, len(writes)))
	var clears []store.Write
	for i, w := range writes {
		if committed[i] && len(w.New.Pending) > 0 && failed[i] == nil {
			clears = append(clears, store.Write{Customer: w.Customer, Loaded: store.Committed(w), New: new(s.eval.Published(tenant, *w.New, now)), Now: now})
		}
	}
	if perr := errors.Join(failed...); perr != nil {
		err = fmt.Errorf("publish tier changes: %w", perr)
	}
	if len(clears) > 0 {
		_, cerr := s.store.Commit(ctx, tenant, clears)
		err = errors.Join(err, cerr)
	}
	return err
}
