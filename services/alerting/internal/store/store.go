// Package store keeps alerting's recovery cases in Redis: one record per
// case, each customer's latest case, the event ids applied to a customer,
// and the sorted-set indexes that list cases newest first (all, per state,
// per customer) and the scheduler's due times.
//
// Writers read, decide in Go (cases.Decide and the transitions), and commit
// with redisx.Writes: a write applies only if what it read is unchanged —
// the case's version, and, for a write that opens a case, the customer's
// latest-case pointer — so replicas and the API never lose each other's
// updates. The version is written last.
//
// Keys (a tenant's keys share the hash tag {<tenant>}, as in the other
// services):
//
//	fl:{<t>}:alert:case:<case id>     hash: v (version), r (the case, JSON), a (changes announced)
//	fl:{<t>}:alert:latest:<customer>  hash: case (the customer's latest case id)
//	fl:{<t>}:alert:g:<customer>       sorted set: applied event ids by time applied, kept GuardTTL
//	fl:{<t>}:alert:cases              sorted set: every case by opening time
//	fl:{<t>}:alert:state:<state>      sorted set: the cases in a state, by opening time
//	fl:{<t>}:alert:customer:<id>      sorted set: a customer's cases, by opening time
//	fl:{<t>}:alert:due                sorted set: cases by when the scheduler must look at them
//	fl:{<t>}:alert:awaiting           sorted set: customers whose latest case awaits its outcome, by resolution time
//	fl:{<t>}:alert:claim              string: the replica running the tenant's scheduler tick
//	fl:alert:tenants                  set: the tenants with cases
//
// Announcing is an outbox: a writer commits a change to the case's
// history, publishes the history entries not yet announced, then records
// how many are (a). Until then the case is due (within AnnounceGrace), so
// if the writer dies in between the scheduler publishes them; a repeat
// carries the same message id and the stream drops it.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

// Store reads and writes cases.
type Store struct {
	rdb      redis.Cmdable
	guardTTL time.Duration
}

// New returns a store on rdb; guardTTL is how long applied event ids are
// remembered (longer than any redelivery takes).
func New(rdb redis.Cmdable, guardTTL time.Duration) *Store {
	return &Store{rdb: rdb, guardTTL: guardTTL}
}

func prefix(tenant string) string              { return "fl:{" + tenant + "}:alert:" }
func caseKey(tenant, id string) string         { return prefix(tenant) + "case:" + id }
func latestKey(tenant, customer string) string { return prefix(tenant) + "latest:" + customer }
func guardKey(tenant, customer string) string  { return prefix(tenant) + "g:" + customer }
func allKey(tenant string) string              { return prefix(tenant) + "cases" }
func stateKey(tenant string, s cases.State) string {
	return prefix(tenant) + "state:" + s.String()
}
func customerKey(tenant, customer string) string { return prefix(tenant) + "customer:" + customer }
func dueKey(tenant string) string                { return prefix(tenant) + "due" }
func awaitingKey(tenant string) string           { return prefix(tenant) + "awaiting" }
func claimKey(tenant string) string              { return prefix(tenant) + "claim" }

// TenantsKey lists the tenants that have cases.
const TenantsKey = "fl:alert:tenants"

// AnnounceGrace is how long a committed change may wait for its writer to
// announce it before the scheduler does.
const AnnounceGrace = 10 * time.Second

// CaseID is the id of the case event opened for customer: derived from
// both, so a redelivered opening event names the same case.
func CaseID(customer, eventID string) string {
	h := sha256.Sum256([]byte(customer + "\x00" + eventID))
	return hex.EncodeToString(h[:10])
}

// ErrCorrupt marks a case record that cannot be decoded.
var ErrCorrupt = errors.New("corrupt case record")

// Loaded is a case as read (Case nil when there is none), with what a write
// of it must find unchanged.
type Loaded struct {
	Case    *cases.Case
	version string
	// pointer is the customer's latest case id as read (Load only).
	pointer string
	// Announced counts the history entries published.
	Announced int
	// Seen holds the event ids asked about that were applied before.
	Seen map[string]bool
}

// Load reads each customer's latest case and which of events[i] were
// applied to customers[i]. One round trip, and a second for the cases.
func (s *Store) Load(ctx context.Context, tenant string, customers []string, events [][]string) ([]Loaded, error) {
	pointers := make([]*redis.StringCmd, len(customers))
	guards := make([]*redis.FloatSliceCmd, len(customers))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range customers {
			pointers[i] = p.HGet(ctx, latestKey(tenant, c), "case")
			guards[i] = redis.NewFloatSliceCmd(ctx)
			if i < len(events) && len(events[i]) > 0 {
				guards[i] = p.ZMScore(ctx, guardKey(tenant, c), events[i]...)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load customers' cases: %w", err)
	}
	out := make([]Loaded, len(customers))
	ids := make([]string, 0, len(customers))
	for i := range customers {
		if err := errors.Join(redisx.IgnoreNil(pointers[i].Err()), guards[i].Err()); err != nil {
			return nil, fmt.Errorf("load customer %s: %w", customers[i], err)
		}
		out[i].pointer = pointers[i].Val()
		if out[i].pointer != "" {
			ids = append(ids, out[i].pointer)
		}
		if i < len(events) {
			out[i].Seen = redisx.Scored(guards[i], events[i])
		}
	}
	read, err := s.cases(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if id := out[i].pointer; id != "" {
			l := read[id]
			out[i].Case, out[i].version, out[i].Announced = l.Case, l.version, l.Announced
		}
	}
	return out, nil
}

// Get reads one case; its Case is nil when there is no such case.
func (s *Store) Get(ctx context.Context, tenant, id string) (Loaded, error) {
	read, err := s.cases(ctx, tenant, []string{id})
	return read[id], err
}

// Cases reads cases by id, in order; a Case is nil where there is none.
func (s *Store) Cases(ctx context.Context, tenant string, ids []string) ([]Loaded, error) {
	read, err := s.cases(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Loaded, len(ids))
	for i, id := range ids {
		out[i] = read[id]
	}
	return out, nil
}

// cases reads cases by id.
func (s *Store) cases(ctx context.Context, tenant string, ids []string) (map[string]Loaded, error) {
	out := make(map[string]Loaded, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, caseKey(tenant, id), "v", "r", "a")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	for i, id := range ids {
		v := cmds[i].Val()
		version, ok := v[0].(string)
		if !ok {
			out[id] = Loaded{}
			continue
		}
		blob, _ := v[1].(string)
		c := new(cases.Case)
		if err := json.Unmarshal([]byte(blob), c); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrCorrupt, id, err)
		}
		announced, _ := v[2].(string)
		n, _ := strconv.Atoi(announced)
		out[id] = Loaded{Case: c, version: version, Announced: n}
	}
	return out, nil
}

// Write changes one case: New, the case after the change, replacing
// Loaded.Case when it is the same case, or else opening it as the
// customer's latest (an empty New.ID is named with CaseID). Events
// are the ids of the events the change applies.
type Write struct {
	Loaded *Loaded
	New    *cases.Case
	Events []string
	// Now is when the write is made: the guards' time.
	Now time.Time
}

// Commit applies one tenant's writes in one round trip and reports, for
// each, whether it was committed (false: what it read changed since; read
// again and decide again). New cases get their ids, and a committed
// write's Loaded becomes what was written, ready for Announced.
func (s *Store) Commit(ctx context.Context, tenant string, ws []Write) ([]bool, error) {
	var b redisx.Writes
	for _, w := range ws {
		if err := s.section(&b, tenant, w); err != nil {
			return nil, err
		}
	}
	done, err := b.Run(ctx, s.rdb, func(p redis.Pipeliner) { p.SAdd(ctx, TenantsKey, tenant) })
	if err != nil {
		return nil, fmt.Errorf("commit cases of %s: %w", tenant, err)
	}
	for i, w := range ws {
		if !done[i] {
			continue
		}
		l := w.Loaded
		if l.Case == nil || l.Case.ID != w.New.ID {
			l.version, l.Announced, l.pointer = "0", 0, w.New.ID
		}
		version, _ := strconv.ParseInt(l.version, 10, 64)
		l.Case, l.version = w.New, strconv.FormatInt(version+1, 10)
	}
	return done, nil
}

// Announced records that the first n history entries of each loaded case
// are published, and puts the case back on its real due time — unless it
// changed since it was loaded: then its writer announces. One round trip.
func (s *Store) Announced(ctx context.Context, tenant string, ls []*Loaded) error {
	var b redisx.Writes
	for _, l := range ls {
		c := l.Case
		b.Section(redisx.Cond{Key: caseKey(tenant, c.ID), Field: "v", Want: l.version})
		b.HSet(caseKey(tenant, c.ID), "a", len(c.History))
		if due, ok := Due(c); ok {
			b.ZAdd(dueKey(tenant), due.UnixMilli(), c.ID)
		} else {
			b.ZRem(dueKey(tenant), c.ID)
		}
	}
	if _, err := b.Run(ctx, s.rdb, nil); err != nil {
		return fmt.Errorf("record announced changes of %s: %w", tenant, err)
	}
	for _, l := range ls {
		l.Announced = len(l.Case.History)
	}
	return nil
}

func (s *Store) section(b *redisx.Writes, tenant string, w Write) error {
	c, old := w.New, w.Loaded.Case
	if c.ID == "" {
		c.ID = CaseID(c.CustomerID, c.FirstEventID)
	}
	opening := old == nil || old.ID != c.ID
	blob, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("case %s: %w", c.ID, err)
	}
	ck := caseKey(tenant, c.ID)
	version := int64(0)
	if opening {
		// The customer's latest case must still be the one read, and the
		// new case must not exist yet.
		b.Section(redisx.Cond{Key: latestKey(tenant, c.CustomerID), Field: "case", Want: w.Loaded.pointer},
			redisx.Cond{Key: ck, Field: "v", Want: ""})
		old = nil
	} else {
		b.Section(redisx.Cond{Key: ck, Field: "v", Want: w.Loaded.version})
		if version, err = strconv.ParseInt(w.Loaded.version, 10, 64); err != nil {
			return fmt.Errorf("%w %s: version %q", ErrCorrupt, c.ID, w.Loaded.version)
		}
	}
	opened := c.OpenedAt.UnixMilli()
	if old == nil {
		b.ZAdd(allKey(tenant), opened, c.ID)
		b.ZAdd(customerKey(tenant, c.CustomerID), opened, c.ID)
	}
	if old == nil || old.State != c.State {
		if old != nil {
			b.ZRem(stateKey(tenant, old.State), c.ID)
		}
		b.ZAdd(stateKey(tenant, c.State), opened, c.ID)
	}
	announced := w.Loaded.Announced
	if opening {
		announced = 0
	}
	due, ok := Due(c)
	if grace := w.Now.Add(AnnounceGrace); announced < len(c.History) && (!ok || grace.Before(due)) {
		due, ok = grace, true
	}
	if ok {
		b.ZAdd(dueKey(tenant), due.UnixMilli(), c.ID)
	} else if old != nil {
		b.ZRem(dueKey(tenant), c.ID)
	}
	if c.State == cases.Resolved && c.Outcome == nil {
		b.ZAdd(awaitingKey(tenant), c.ResolvedAt.UnixMilli(), c.CustomerID)
	} else if opening || (old.State == cases.Resolved && old.Outcome == nil) {
		b.ZRem(awaitingKey(tenant), c.CustomerID)
	}
	b.Guard(guardKey(tenant, c.CustomerID), w.Events, w.Now, s.guardTTL)
	b.HSet(ck, "r", blob)
	if opening {
		b.HSet(latestKey(tenant, c.CustomerID), "case", c.ID)
	}
	b.HSet(ck, "v", version+1)
	return nil
}

// Due is when the scheduler must next look at c: its acknowledge deadline
// while it is open (to escalate it), its follow-up time once resolved; ok
// is false when nothing is scheduled.
func Due(c *cases.Case) (time.Time, bool) {
	switch {
	case c.State == cases.Open:
		return c.AcknowledgeBy, true
	case c.State == cases.Resolved && !c.FollowUpAt.IsZero():
		return c.FollowUpAt, true
	}
	return time.Time{}, false
}

// DueCases returns up to n cases due at now, earliest first.
func (s *Store) DueCases(ctx context.Context, tenant string, now time.Time, n int) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: dueKey(tenant), ByScore: true, Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n),
	}).Result()
}

// Awaiting returns which of customers have a latest case that awaits its
// outcome: their next feedback measures it.
func (s *Store) Awaiting(ctx context.Context, tenant string, customers []string) (map[string]bool, error) {
	if len(customers) == 0 {
		return nil, nil
	}
	cmd := s.rdb.ZMScore(ctx, awaitingKey(tenant), customers...)
	if err := cmd.Err(); err != nil {
		return nil, fmt.Errorf("read customers awaiting an outcome: %w", err)
	}
	return redisx.Scored(cmd, customers), nil
}

// Tenants lists the tenants that have cases.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, TenantsKey).Result()
}

// Claims shares the scheduler's tenants between replicas: one replica,
// named owner, runs a tenant's tick per interval.
func (s *Store) Claims(interval time.Duration, owner string, log *slog.Logger) redisx.Claims {
	return redisx.Claims{RDB: s.rdb, Interval: interval, Tenants: s.Tenants, Key: claimKey, Owner: owner, Log: log}
}
