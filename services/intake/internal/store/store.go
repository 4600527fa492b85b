// Package store keeps intake's memory of event ids in Redis, so that a
// repeated event is recognised for longer than JetStream's duplicate window.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// opTimeout bounds each call to Redis. The id memory is an optimisation over
// the stream's own de-duplication, so when Redis is slow or down intake goes
// on without it rather than holding callers up.
const opTimeout = 500 * time.Millisecond

// Seen remembers which event ids each tenant has stored.
type Seen struct {
	rdb redis.Cmdable
	ttl time.Duration
}

// New remembers ids for ttl.
func New(rdb redis.Cmdable, ttl time.Duration) *Seen { return &Seen{rdb: rdb, ttl: ttl} }

// key spreads ids over the cluster by hashing the whole "<tenant>/<id>"
// (event ids contain no braces, so the hash tag is exact).
func key(tenant, id string) string { return "fl:intake:seen:{" + tenant + "/" + id + "}" }

// Contains reports, for each id, whether the tenant stored it before. One
// round trip for all ids.
func (s *Seen) Contains(ctx context.Context, tenant string, ids []string) ([]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cmds := make([]*redis.IntCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, key(tenant, id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check event ids: %w", err)
	}
	seen := make([]bool, len(ids))
	for i, c := range cmds {
		seen[i] = c.Val() > 0
	}
	return seen, nil
}

// Add records the ids as stored. Call it only after the stream acknowledged
// them: an id recorded for an event that was not stored would turn the
// client's retry into a false "duplicate". It completes even if the caller
// has gone away: the events are stored either way.
func (s *Seen) Add(ctx context.Context, tenant string, ids []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, key(tenant, id), 1, s.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record event ids: %w", err)
	}
	return nil
}
