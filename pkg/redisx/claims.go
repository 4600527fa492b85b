package redisx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claims shares periodic per-tenant work between replicas: on each tick,
// a replica lists the tenants and works for each tenant whose claim it
// wins (SET NX with an expiry) or already holds. The claim lapses a little before the next
// tick instead of being released, so a replica that dies holding it blocks
// no one for long, and every tick any replica may claim again.
type Claims struct {
	RDB      redis.Cmdable
	Interval time.Duration
	// Tenants lists the tenants; Key names a tenant's claim.
	Tenants func(ctx context.Context) ([]string, error)
	Key     func(tenant string) string
	// Owner names this replica in its claims.
	Owner string
	Log   *slog.Logger
}

// Work is a tick's work for one tenant; it returns how many items it
// handled.
type Work func(ctx context.Context, tenant string) (int, error)

// Run calls Tick every Interval until ctx ends. A failed tick is logged
// and the next one tries again.
func (c Claims) Run(ctx context.Context, work Work) error {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := c.Tick(ctx, work); err != nil && ctx.Err() == nil {
				c.Log.Warn("periodic work failed", "err", err)
			}
		}
	}
}

// Tick runs work for every tenant this replica claims now and returns how
// many items they handled.
func (c Claims) Tick(ctx context.Context, work Work) (int, error) {
	tenants, err := c.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, tenant := range tenants {
		claimed, err := c.claim(ctx, tenant)
		if err != nil || !claimed {
			errs = append(errs, err)
			continue
		}
		n, err := work(ctx, tenant)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// claim takes tenant's claim, or renews it when this replica holds it.
func (c Claims) claim(ctx context.Context, tenant string) (bool, error) {
	ttl := c.Interval * 9 / 10
	claimed, err := c.RDB.SetNX(ctx, c.Key(tenant), c.Owner, ttl).Result()
	if err != nil || claimed {
		return claimed, err
	}
	holder, err := c.RDB.Get(ctx, c.Key(tenant)).Result()
	if err != nil || holder != c.Owner {
		return false, IgnoreNil(err)
	}
	return true, c.RDB.PExpire(ctx, c.Key(tenant), ttl).Err()
}
