package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/feedloop/feedloop/pkg/bus"
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
type Sweeper struct {
	cfg   SweepConfig
	eval  *segment.Evaluator
	store *store.Store
	pub   *bus.Publisher
	now   func() time.Time
	owner string
	log   *slog.Logger
}

// NewSweeper returns a sweeper; owner names this replica in its claims.
func NewSweeper(cfg SweepConfig, eval *segment.Evaluator, st *store.Store, pub *bus.Publisher, now func() time.Time, owner string, log *slog.Logger) *Sweeper {
	return &Sweeper{cfg: cfg, eval: eval, store: st, pub: pub, now: now, owner: owner, log: log.With("component", "sweep")}
}

// Run ticks until ctx ends. A failed tick is logged and the next one tries
// again.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweep tick failed", "err", err)
			}
		}
	}
}

// Tick sweeps every tenant this replica can claim and returns how many
// customers it evaluated.
func (s *Sweeper) Tick(ctx context.Context) (int, error) {
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	total := 0
	var errs []error
	for _, tenant := range tenants {
		// The claim lapses a little before the next tick, so that a
		// replica can claim again on every tick.
		claimed, err := s.store.ClaimSweep(ctx, tenant, s.owner, s.cfg.Interval*9/10)
		if err != nil || !claimed {
			errs = append(errs, err)
			continue
		}
		n, err := s.sweep(ctx, tenant)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

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

// evaluate re-evaluates customers and publishes their tier changes. A
// change is written as unpublished and due at once, published, then marked
// published: a crash in between leaves it to be published by whoever
// writes the customer next.
func (s *Sweeper) evaluate(ctx context.Context, tenant string, ids []string, now time.Time) error {
	loaded, err := s.store.Load(ctx, tenant, ids, nil)
	if err != nil {
		return err
	}
	cause := "sweep-" + strconv.FormatInt(now.UnixMilli(), 10)
	var writes []store.Write
	var outs [][]bus.Outgoing // per write
	for i, id := range ids {
		l := &loaded[i]
		if !l.Found || l.Corrupt != nil { // erased since it was listed, or unreadable
			continue
		}
		var out []bus.Outgoing
		r := l.Record
		if r.Unpublished {
			out = append(out, tierChanged(ctx, tenant, id, s.eval, &r))
		}
		r, _, changed := s.eval.Reevaluate(tenant, r, now, cause)
		if changed {
			out = append(out, tierChanged(ctx, tenant, id, s.eval, &r))
		}
		if len(out) > 0 {
			r.Unpublished, r.Due = true, now
		}
		writes = append(writes, store.Write{Customer: id, Loaded: l, New: &r, Now: now})
		outs = append(outs, out)
	}
	if len(writes) == 0 {
		return nil
	}
	committed, err := s.store.Commit(ctx, tenant, writes)
	if err != nil {
		return err
	}
	// Publish the committed changes; a customer another writer changed
	// meanwhile is left to that writer.
	var all []bus.Outgoing
	var owner []int
	for i, out := range outs {
		if committed[i] {
			all = append(all, out...)
			for range out {
				owner = append(owner, i)
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	_, perrs := s.pub.PublishAll(ctx, all)
	published := map[int]bool{}
	for j, err := range perrs {
		if err != nil {
			return fmt.Errorf("publish tier changes: %w", err)
		}
		published[owner[j]] = true
	}
	var marks []store.Write
	for i := range published {
		w := writes[i]
		next := *w.New
		next.Unpublished = false
		next.Due = s.eval.NextDue(tenant, &next, now)
		after := store.Loaded{Found: true, Record: *w.New, Version: w.Loaded.Version + 1}
		marks = append(marks, store.Write{Customer: w.Customer, Loaded: &after, New: &next, Now: now})
	}
	_, err = s.store.Commit(ctx, tenant, marks)
	return err
}
