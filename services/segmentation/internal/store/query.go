package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/pkg/redisx"
)

// Order is the order List returns customers in.
type Order int

// Orders: highest churn risk first, or highest value first.
const (
	ByRisk Order = iota
	ByValue
)

// Query selects customers for List.
type Query struct {
	// Tier, when set, keeps only that tier's customers.
	Tier string
	// MinRisk keeps only customers with at least this churn risk.
	MinRisk float64
	Order   Order
	Limit   int
	// After continues from a previous page's Next.
	After *Cursor
}

// Cursor is where a page ended: the last customer's score and id.
type Cursor struct {
	Score float64
	ID    string
}

// scanBound is how many index entries one List call looks at, times the
// limit, when filtering by risk while ordering by value.
const scanBound = 10

// List returns the ids of the customers q selects, in its order, and where
// the next page starts (nil on the last page). Pages come from the sorted
// set indexes, never from scanning keys.
func (s *Store) List(ctx context.Context, tenant string, q Query) ([]string, *Cursor, error) {
	by := byRisk
	if q.Order == ByValue {
		by = byValue
	}
	key := indexKey(tenant, by)
	if q.Tier != "" {
		key = tierKey(tenant, q.Tier, by)
	}
	start, err := s.position(ctx, key, q.After)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	var last *Cursor
	budget := q.Limit * scanBound
	for len(ids) < q.Limit && budget > 0 {
		chunk := int64(min(budget, q.Limit-len(ids)))
		if q.Order == ByValue && q.MinRisk > 0 {
			chunk = int64(min(budget, 2*q.Limit))
		}
		zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: start + chunk - 1, Rev: true}).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("list customers: %w", err)
		}
		budget -= len(zs)
		start += int64(len(zs))
		keep := func(int) bool { return true }
		if q.Order == ByRisk {
			keep = func(i int) bool { return zs[i].Score >= q.MinRisk }
		} else if q.MinRisk > 0 {
			members := make([]string, len(zs))
			for i, z := range zs {
				members[i] = z.Member.(string)
			}
			risks, err := s.rdb.ZMScore(ctx, indexKey(tenant, byRisk), members...).Result()
			if err != nil {
				return nil, nil, fmt.Errorf("list customers: %w", err)
			}
			keep = func(i int) bool { return risks[i] >= q.MinRisk }
		}
		for i, z := range zs {
			if q.Order == ByRisk && !keep(i) {
				return ids, nil, nil // ordered by risk: none further qualifies
			}
			last = &Cursor{Score: z.Score, ID: z.Member.(string)}
			if keep(i) {
				ids = append(ids, last.ID)
			}
			if len(ids) == q.Limit {
				return ids, last, nil
			}
		}
		if int64(len(zs)) < chunk {
			return ids, nil, nil // the end of the index
		}
	}
	return ids, last, nil // the scan bound: the next page goes on from here
}

// position is the rank (highest first) at which a page after c starts: just
// past c's customer, or, when that customer has moved or gone since, past
// every customer scored above c.
func (s *Store) position(ctx context.Context, key string, c *Cursor) (int64, error) {
	if c == nil {
		return 0, nil
	}
	score, err := s.rdb.ZScore(ctx, key, c.ID).Result()
	if err == nil && score == c.Score {
		rank, err := s.rdb.ZRevRank(ctx, key, c.ID).Result()
		if err == nil {
			return rank + 1, nil
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("list customers: %w", err)
	}
	n, err := s.rdb.ZCount(ctx, key, "("+strconv.FormatFloat(c.Score, 'g', -1, 64), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("list customers: %w", err)
	}
	return n, nil
}

// TierCounters are one tier's report counters.
type TierCounters struct {
	Customers, Rated                int64
	SatisfactionSum, RiskSum        float64
	Promoters, Passives, Detractors int64
	High, Medium, Low               int64
}

// Report reads the tenant's counters per tier.
func (s *Store) Report(ctx context.Context, tenant string) (map[string]*TierCounters, error) {
	fields, err := s.rdb.HGetAll(ctx, reportKey(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("read tier report: %w", err)
	}
	out := map[string]*TierCounters{}
	for field, v := range fields {
		tier, name, ok := strings.Cut(field, "|")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("tier report field %s = %q", field, v)
		}
		c := out[tier]
		if c == nil {
			c = &TierCounters{}
			out[tier] = c
		}
		switch name {
		case "n":
			c.Customers = n
		case "rated":
			c.Rated = n
		case "sat":
			c.SatisfactionSum = float64(n) / satScale
		case "risk":
			c.RiskSum = float64(n) / riskScale
		case "nps:promoter":
			c.Promoters = n
		case "nps:passive":
			c.Passives = n
		case "nps:detractor":
			c.Detractors = n
		case "high":
			c.High = n
		case "medium":
			c.Medium = n
		case "low":
			c.Low = n
		}
	}
	return out, nil
}

// Tenants lists the tenants that have customers.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, TenantsKey).Result()
}

// Claims shares the sweep of the tenants between replicas: one replica,
// named owner, sweeps a tenant per tick of interval.
func (s *Store) Claims(interval time.Duration, owner string, log *slog.Logger) redisx.Claims {
	return redisx.Claims{RDB: s.rdb, Interval: interval, Tenants: s.Tenants, Key: sweepKey, Owner: owner, Log: log}
}

// Due returns up to n customers due for evaluation at now, earliest first.
func (s *Store) Due(ctx context.Context, tenant string, now time.Time, n int) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: dueKey(tenant), ByScore: true, Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n),
	}).Result()
}
