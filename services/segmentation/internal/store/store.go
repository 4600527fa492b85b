// Package store keeps segmentation's state in Redis: one record per
// customer, the event ids applied to it, the sorted-set indexes that list
// customers by tier, churn risk, value and due time, the tier report's
// counters, and the tombstones of erased customers.
//
// Writers read customers, compute in Go, and commit with redisx.Writes,
// which applies a customer's writes only when its version and tombstone are
// still the ones read (optimistic concurrency): the record, the event-id
// guards, the index entries and the report counters change together.
// Values are checked in Go before they are sent, and the version is written
// last, so a script that fails halfway (Redis does not roll back) leaves
// the customer to be recomputed and written again.
//
// Keys (all of a tenant's keys share the hash tag {<tenant>}, so one script
// can update a customer and the tenant's indexes on Redis Cluster):
//
//	fl:{<t>}:seg:c:<id>                 hash: v (version), r (record)
//	fl:{<t>}:seg:g:<id>                 sorted set: applied event ids by time applied, kept GuardTTL
//	fl:{<t>}:seg:risk, …:value          sorted sets: every customer by churn risk, by value
//	fl:{<t>}:seg:tier:<tier>:risk, …:value  the same per tier
//	fl:{<t>}:seg:due                    sorted set: customers by when to evaluate them again
//	fl:{<t>}:seg:report                 hash: per-tier counters (reportFields)
//	fl:{<t>}:seg:erased                 hash: SHA-256 of an erased customer's id → erased at (ms)
//	fl:seg:tenants                      set: tenants with customers (for the sweep)
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
)

// TenantsKey lists the tenants that have customers.
const TenantsKey = "fl:seg:tenants"

// Store reads and writes segmentation state.
type Store struct {
	rdb redis.Cmdable
	// guardTTL is how long an applied event id is remembered: longer than
	// any redelivery can take.
	guardTTL time.Duration
}

// New returns a store on rdb.
func New(rdb redis.Cmdable, guardTTL time.Duration) *Store {
	return &Store{rdb: rdb, guardTTL: guardTTL}
}

func prefix(tenant string) string          { return "fl:{" + tenant + "}:seg:" }
func customerKey(tenant, id string) string { return prefix(tenant) + "c:" + id }
func guardKey(tenant, id string) string    { return prefix(tenant) + "g:" + id }
func tierKey(tenant, tier, by string) string {
	return prefix(tenant) + "tier:" + tier + ":" + by
}

// Index key suffixes.
const (
	byRisk  = "risk"
	byValue = "value"
)

func indexKey(tenant, by string) string { return prefix(tenant) + by }
func dueKey(tenant string) string       { return prefix(tenant) + "due" }
func reportKey(tenant string) string    { return prefix(tenant) + "report" }
func erasedKey(tenant string) string    { return prefix(tenant) + "erased" }
func sweepKey(tenant string) string     { return prefix(tenant) + "sweep" }

// tombstone names an erased customer without keeping their id.
func tombstone(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// Loaded is a customer as read.
type Loaded struct {
	Found   bool
	Record  segment.Record
	Version int64
	// Seen holds the event ids asked about that were applied before.
	Seen map[string]bool
	// ErasedAt is when the customer was last erased; zero if never. Events
	// received before it belong to the erased customer and are skipped.
	ErasedAt time.Time
	// Corrupt is set when the record cannot be decoded (Found is then
	// true and Record empty): no retry can help, and only an erasure
	// writes over it.
	Corrupt error
	// version and tombstone are the version field and the tombstone as
	// read ("" when absent): a write commits only if both are unchanged,
	// so no writer that loaded before an erasure commits after it.
	version, tombstone string
}

// ErrCorrupt marks a customer record that cannot be decoded: retrying
// cannot help.
var ErrCorrupt = errors.New("corrupt customer record")

// Load reads customers of tenant, and which of events[i] were applied to
// customers[i] (events may be nil). One round trip.
func (s *Store) Load(ctx context.Context, tenant string, customers []string, events [][]string) ([]Loaded, error) {
	hashes := make([]*redis.SliceCmd, len(customers))
	guards := make([]*redis.FloatSliceCmd, len(customers))
	erased := make([]*redis.StringCmd, len(customers))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range customers {
			hashes[i] = p.HMGet(ctx, customerKey(tenant, id), "v", "r")
			guards[i] = redis.NewFloatSliceCmd(ctx) // no events to look up
			if i < len(events) && len(events[i]) > 0 {
				guards[i] = p.ZMScore(ctx, guardKey(tenant, id), events[i]...)
			}
			erased[i] = p.HGet(ctx, erasedKey(tenant), tombstone(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	out := make([]Loaded, len(customers))
	for i, id := range customers {
		l := &out[i]
		// Every command's own error: a failure halfway through the
		// pipeline must not pass for an empty answer.
		if err := errors.Join(hashes[i].Err(), guards[i].Err(), redisx.IgnoreNil(erased[i].Err())); err != nil {
			return nil, fmt.Errorf("load customer %s: %w", id, err)
		}
		v := hashes[i].Val()
		if version, ok := v[0].(string); ok {
			l.Found, l.version = true, version
			if l.Version, err = strconv.ParseInt(version, 10, 64); err != nil {
				l.Corrupt = fmt.Errorf("%w: customer %s: version %q", ErrCorrupt, id, version)
			} else {
				blob, _ := v[1].(string)
				if err := l.Record.UnmarshalBinary([]byte(blob)); err != nil {
					l.Corrupt = fmt.Errorf("%w: customer %s: %v", ErrCorrupt, id, err)
					l.Record = segment.Record{}
				}
			}
		}
		if i < len(events) {
			l.Seen = redisx.Scored(guards[i], events[i])
		}
		l.tombstone = erased[i].Val()
		if ms, err := strconv.ParseInt(l.tombstone, 10, 64); err == nil {
			l.ErasedAt = time.UnixMilli(ms).UTC()
		}
	}
	return out, nil
}

// Write is a change to one customer: a new record (New, with the ids of
// the events it applies), or an erasure (New nil).
type Write struct {
	Customer string
	// Loaded is the customer as read; the write commits only if the
	// customer has not changed since.
	Loaded *Loaded
	New    *segment.Record
	Events []string
	// Now is when the write is made: the guards' time and the tombstone's.
	Now time.Time
}

// Committed is the customer as w leaves it, once committed: what a write
// that follows w must name as loaded.
func Committed(w Write) *Loaded {
	v := w.Loaded.Version + 1
	return &Loaded{Found: true, Record: *w.New, Version: v, version: strconv.FormatInt(v, 10), ErasedAt: w.Loaded.ErasedAt, tombstone: w.Loaded.tombstone}
}

// Commit applies one tenant's writes in one round trip and reports, for
// each, whether it was committed (false: the customer changed since it was
// loaded; load it again and recompute).
func (s *Store) Commit(ctx context.Context, tenant string, ws []Write) ([]bool, error) {
	var b redisx.Writes
	fresh := false
	for _, w := range ws {
		if err := s.section(&b, tenant, w); err != nil {
			return nil, err
		}
		fresh = fresh || (!w.Loaded.Found && w.New != nil)
	}
	done, err := b.Run(ctx, s.rdb, func(p redis.Pipeliner) {
		if fresh {
			p.SAdd(ctx, TenantsKey, tenant)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("commit customers of %s: %w", tenant, err)
	}
	return done, nil
}

func (s *Store) section(b *redisx.Writes, tenant string, w Write) error {
	ck, tomb := customerKey(tenant, w.Customer), tombstone(w.Customer)
	var old, cur *entry
	if w.Loaded.Found && w.Loaded.Corrupt == nil {
		old = entryOf(&w.Loaded.Record)
	}
	if w.New != nil {
		cur = entryOf(w.New)
		if !cur.finite() {
			return fmt.Errorf("customer %s: churn risk %v or satisfaction %v is not a number", w.Customer, cur.risk, cur.sat)
		}
	}
	b.Section(redisx.Cond{Key: ck, Field: "v", Want: w.Loaded.version}, redisx.Cond{Key: erasedKey(tenant), Field: tomb, Want: w.Loaded.tombstone})
	// Index moves and guards first: applying them twice is harmless. Then
	// the record and, last, the version; the script applies the counters
	// after every section, summed over the batch.
	indexOps(b, tenant, w.Customer, old, cur)
	if w.New == nil {
		b.Del(guardKey(tenant, w.Customer))
		b.HSet(erasedKey(tenant), tomb, w.Now.UnixMilli())
		b.Del(ck)
		return nil
	}
	b.Guard(guardKey(tenant, w.Customer), w.Events, w.Now, s.guardTTL)
	blob, _ := w.New.MarshalBinary()
	b.HSet(ck, "r", blob)
	b.HSet(ck, "v", w.Loaded.Version+1) // sent with r as one HSET
	return nil
}

// entry is what the indexes and the report hold for a customer.
type entry struct {
	tier, level string
	risk        float64
	value       int64
	due         time.Time
	rated       bool
	sat         float64
	nps         profile.NPS
}

func (e *entry) finite() bool {
	return !math.IsNaN(e.risk) && !math.IsInf(e.risk, 0) && !math.IsNaN(e.sat) && !math.IsInf(e.sat, 0)
}

func entryOf(r *segment.Record) *entry {
	return &entry{
		tier: r.Tier, level: r.Level, risk: r.Risk, value: r.Value, due: r.Due,
		rated: r.State.Rated > 0, sat: r.State.Satisfaction, nps: r.State.LatestNPS,
	}
}

// Report counters are integers (exact in any order): risk in millionths,
// satisfaction in ten-thousandths.
const (
	riskScale = 1e6
	satScale  = 1e4
)

// reportFields are e's contributions to the report counters.
func (e *entry) reportFields() map[string]int64 {
	f := map[string]int64{
		e.tier + "|n":                     1,
		e.tier + "|" + e.level:            1,
		e.tier + "|risk":                  int64(math.Round(e.risk * riskScale)),
		e.tier + "|nps:" + e.nps.String(): 1,
	}
	if e.rated {
		f[e.tier+"|rated"] = 1
		f[e.tier+"|sat"] = int64(math.Round(e.sat * satScale))
	}
	return f
}

// indexOps moves a customer's index entries and report counters from old
// to cur (either may be nil: a new or an erased customer).
func indexOps(b *redisx.Writes, tenant, id string, old, cur *entry) {
	delta := map[string]int64{}
	if old != nil {
		for k, v := range old.reportFields() {
			delta[k] -= v
		}
		if cur == nil || old.tier != cur.tier {
			b.ZRem(tierKey(tenant, old.tier, byRisk), id)
			b.ZRem(tierKey(tenant, old.tier, byValue), id)
		}
	}
	if cur == nil {
		b.ZRem(indexKey(tenant, byRisk), id)
		b.ZRem(indexKey(tenant, byValue), id)
		b.ZRem(dueKey(tenant), id)
	} else {
		for k, v := range cur.reportFields() {
			delta[k] += v
		}
		// Only what changed is written: a write that merely clears
		// published tier changes moves the due time alone.
		moved := old == nil || old.tier != cur.tier
		if moved || old.risk != cur.risk {
			b.ZAdd(indexKey(tenant, byRisk), cur.risk, id)
			b.ZAdd(tierKey(tenant, cur.tier, byRisk), cur.risk, id)
		}
		if moved || old.value != cur.value {
			b.ZAdd(indexKey(tenant, byValue), cur.value, id)
			b.ZAdd(tierKey(tenant, cur.tier, byValue), cur.value, id)
		}
		if old == nil || !old.due.Equal(cur.due) {
			b.ZAdd(dueKey(tenant), cur.due.UnixMilli(), id)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(delta)) {
		v := delta[k]
		if v != 0 {
			b.HIncrBy(reportKey(tenant), k, v)
		}
	}
}

// Record reads one customer's record.
func (s *Store) Record(ctx context.Context, tenant, id string) (segment.Record, bool, error) {
	l, err := s.Load(ctx, tenant, []string{id}, nil)
	if err != nil {
		return segment.Record{}, false, err
	}
	return l[0].Record, l[0].Found, l[0].Corrupt
}
