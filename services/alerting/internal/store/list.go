package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

// Filter selects cases; its zero value selects every case.
type Filter struct {
	// States keeps the cases in any of these states; empty keeps all.
	States []cases.State
	// MinSeverity keeps the cases at or above it.
	MinSeverity alert.Severity
	CustomerID  string
	// Tier keeps the cases whose customer was in this tier when the case
	// opened.
	Tier string
}

// Match is true when f selects c.
func (f Filter) Match(c *cases.Case) bool {
	return (len(f.States) == 0 || slices.Contains(f.States, c.State)) &&
		c.Severity >= f.MinSeverity &&
		(f.CustomerID == "" || c.CustomerID == f.CustomerID) &&
		(f.Tier == "" || c.Tier == f.Tier)
}

// index is the smallest index that holds every case f selects — the
// customer's, else the one state's, else all — and whether it holds only
// them, so that no entry read is filtered out.
func (f Filter) index(tenant string) (key string, exact bool) {
	switch {
	case f.CustomerID != "":
		key, exact = customerKey(tenant, f.CustomerID), len(f.States) == 0
	case len(f.States) == 1:
		key, exact = stateKey(tenant, f.States[0]), true
	default:
		key, exact = allKey(tenant), len(f.States) == 0
	}
	return key, exact && f.MinSeverity <= alert.NoSeverity && f.Tier == ""
}

// Query is one page of List.
type Query struct {
	Filter Filter
	// Limit is the most cases returned (at least 1).
	Limit int
	// After continues from where a previous page ended.
	After *Cursor
}

// Cursor is where a page ended: the last case examined, by its index
// entry (opening time in Unix milliseconds, case id).
type Cursor struct {
	Opened int64
	ID     string
}

// List examines at most ScanFactor index entries per case asked for, and
// never more than MaxScan.
const (
	ScanFactor = 10
	MaxScan    = 5000
)

// minChunk is the fewest index entries read at a time while filtering, so
// that a selective filter does not cost a round trip per case.
const minChunk = 100

// List returns the cases q selects, newest opened first (cases opened in
// the same millisecond by id, descending), and where the next page starts:
// nil when the index is exhausted.
//
// Severity and tier are not indexed: List filters them while it reads the
// index, and examines at most min(ScanFactor×Limit, MaxScan) entries. When
// it reaches that bound it returns the cases found so far — possibly none
// — with a cursor, and the caller continues from there. A page is read
// from the index as it is then: a case's place in the all-cases and
// customer indexes never changes (its opening time is fixed), but the
// state indexes gain and lose cases as they change state, so a case that
// changes state while a client pages through a state may be listed twice
// or not at all. Cases are checked against the filter as read, so none is
// listed in a state it has left.
func (s *Store) List(ctx context.Context, tenant string, q Query) ([]*cases.Case, *Cursor, error) {
	key, exact := q.Filter.index(tenant)
	start, err := s.position(ctx, key, q.After)
	if err != nil {
		return nil, nil, err
	}
	limit := max(q.Limit, 1)
	budget := min(ScanFactor*limit, MaxScan)
	var out []*cases.Case
	var last *Cursor
	for len(out) < limit && budget > 0 {
		chunk := limit - len(out)
		if !exact {
			chunk = max(chunk, minChunk)
		}
		chunk = min(chunk, budget)
		zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: start + int64(chunk) - 1, Rev: true}).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("list cases: %w", err)
		}
		budget -= len(zs)
		start += int64(len(zs))
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i], _ = z.Member.(string)
		}
		read, err := s.cases(ctx, tenant, ids)
		if err != nil {
			return nil, nil, err
		}
		for i, z := range zs {
			last = &Cursor{Opened: int64(z.Score), ID: ids[i]}
			// A case gone since the index was read is skipped.
			if c := read[ids[i]].Case; c != nil && q.Filter.Match(c) {
				out = append(out, c)
				if len(out) == limit {
					return out, last, nil
				}
			}
		}
		if len(zs) < chunk {
			return out, nil, nil // the end of the index
		}
	}
	return out, last, nil // the scan bound: the next call goes on from here
}

// position is the rank, newest first, at which a page after c starts in
// key: just past c's case, or, when that case has left the index since
// (it changed state), past every entry that came before it.
func (s *Store) position(ctx context.Context, key string, c *Cursor) (int64, error) {
	if c == nil {
		return 0, nil
	}
	rank, err := s.rdb.ZRevRank(ctx, key, c.ID).Result()
	if err == nil {
		return rank + 1, nil // opening times never change: it is where it was
	}
	if !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("list cases: %w", err)
	}
	score := strconv.FormatInt(c.Opened, 10)
	var newer *redis.IntCmd
	var tied *redis.StringSliceCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		newer = p.ZCount(ctx, key, "("+score, "+inf")
		tied = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: score, Stop: score, ByScore: true})
		return nil
	}); err != nil {
		return 0, fmt.Errorf("list cases: %w", err)
	}
	// Entries of the same millisecond come in descending id order.
	n := newer.Val()
	for _, id := range tied.Val() {
		if id > c.ID {
			n++
		}
	}
	return n, nil
}

// ErrTooMany is the error of Opened when the window holds more cases than
// it may read.
var ErrTooMany = errors.New("too many cases")

// openedChunk is how many cases Opened reads per round trip.
const openedChunk = 1000

// Opened returns the cases opened in [from, to), oldest first, reading the
// all-cases index in chunks. It reads at most limit cases: a window that
// holds more is ErrTooMany, before any case is read. A case opened into the
// window while it is read may be missed.
func (s *Store) Opened(ctx context.Context, tenant string, from, to time.Time, limit int) ([]*cases.Case, error) {
	if !from.Before(to) {
		return nil, nil
	}
	// Scores are opening times truncated to the millisecond: read the
	// milliseconds from and to fall in, and keep the cases in the window.
	key := allKey(tenant)
	lo, hi := strconv.FormatInt(from.UnixMilli(), 10), strconv.FormatInt(to.UnixMilli(), 10)
	var before, inside *redis.IntCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		before = p.ZCount(ctx, key, "-inf", "("+lo)
		inside = p.ZCount(ctx, key, lo, hi)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count cases opened: %w", err)
	}
	first, n := before.Val(), inside.Val()
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: %d cases opened in the window, at most %d are read", ErrTooMany, n, limit)
	}
	out := make([]*cases.Case, 0, n)
	seen := make(map[string]bool, n) // a case opened before the window meanwhile shifts the ranks
	for off := int64(0); off < n; off += openedChunk {
		ids, err := s.rdb.ZRange(ctx, key, first+off, first+min(off+openedChunk, n)-1).Result()
		if err != nil {
			return nil, fmt.Errorf("read cases opened: %w", err)
		}
		read, err := s.cases(ctx, tenant, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			c := read[id].Case
			if c != nil && !seen[id] && !c.OpenedAt.Before(from) && c.OpenedAt.Before(to) {
				seen[id] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}
