package redisx

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed writes.lua
var writesSource string

var writesScript = NewScript(writesSource)

// Writes is a batch of conditional writes sent as one script call: each
// section applies its operations only when its conditions hold. It is
// optimistic concurrency with the logic outside Redis: a writer reads
// (a version field, a tombstone), computes the new state in Go, and
// writes only if nothing it read has changed since; otherwise it reads
// again. Redis does not undo a script that fails halfway, so check values
// before adding them, add repeatable operations first and the one that
// makes the write visible (a version) last. On Redis Cluster every key of
// a batch must be in one slot.
//
// The script makes as few writes as it can, since Redis appends each one
// to its AOF: consecutive HSets of one key go as one HSET, increments are
// summed over the batch, and a guard's expiry is renewed only when due.
type Writes struct {
	keys     map[string]int
	keyList  []string
	args     []any
	sections int
	ops      int // the open section's operations
	count    int // where the open section's op count goes in args
}

// Cond is a condition: hash Key's Field holds Want ("" for absent).
type Cond struct{ Key, Field, Want string }

// Section starts a section whose operations, added next, apply only when
// every cond holds.
func (w *Writes) Section(conds ...Cond) {
	w.close()
	if w.keys == nil {
		w.keys, w.args = map[string]int{}, []any{0}
	}
	w.args = append(w.args, len(conds))
	for _, c := range conds {
		w.args = append(w.args, w.key(c.Key), c.Field, c.Want)
	}
	w.args = append(w.args, 0)
	w.count, w.ops = len(w.args)-1, 0
	w.sections++
}

// close fills in the open section's op count.
func (w *Writes) close() {
	if w.sections > 0 {
		w.args[w.count] = w.ops
	}
}

func (w *Writes) key(k string) int {
	if i, ok := w.keys[k]; ok {
		return i
	}
	w.keyList = append(w.keyList, k)
	w.keys[k] = len(w.keyList)
	return len(w.keyList)
}

func (w *Writes) op(code, key string, x, y any) {
	w.args = append(w.args, code, w.key(key), x, y)
	w.ops++
}

// HSet sets a hash field.
func (w *Writes) HSet(key, field string, value any) { w.op("H", key, field, value) }

// ZAdd adds or moves a sorted-set member.
func (w *Writes) ZAdd(key string, score any, member string) { w.op("Z", key, score, member) }

// ZRem removes a sorted-set member.
func (w *Writes) ZRem(key, member string) { w.op("R", key, member, "") }

// HIncrBy adds delta to a hash field, deleting the field when it reaches 0.
// The increments of the sections written are summed per field and applied
// after every section, one HINCRBY a field: no condition can depend on
// them. Deltas and their sums must stay within ±2^53 (Lua's numbers).
func (w *Writes) HIncrBy(key, field string, delta int64) { w.op("I", key, field, delta) }

// Del deletes a key.
func (w *Writes) Del(key string) { w.op("D", key, "", "") }

// Run sends the batch, in one round trip with whatever also queues, and
// reports per section whether it was written.
func (w *Writes) Run(ctx context.Context, c redis.Cmdable, also func(redis.Pipeliner)) ([]bool, error) {
	if w.sections == 0 {
		return nil, nil
	}
	w.close()
	w.args[0] = w.sections
	var cmd *redis.Cmd
	_, err := Pipelined(ctx, c, []*Script{writesScript}, func(p redis.Pipeliner) {
		if also != nil {
			also(p)
		}
		cmd = writesScript.Queue(ctx, p, w.keyList, w.args...)
	})
	if err != nil {
		return nil, err
	}
	replies, ok := cmd.Val().([]any)
	if !ok || len(replies) != w.sections {
		return nil, fmt.Errorf("conditional writes: unexpected reply %v", cmd.Val())
	}
	done := make([]bool, len(replies))
	for i, r := range replies {
		done[i] = r == int64(1)
	}
	return done, nil
}

// ErrContended is the error of an item whose subject another writer kept
// changing through every round of Optimistic.
var ErrContended = errors.New("changed by another writer during every attempt")

// Optimistic drives read-decide-commit over pending, each tenant's items
// grouped by subject (a customer), for at most rounds rounds. apply reads
// and commits one tenant's groups and removes those it is done with; a
// group another writer changed since apply read it stays for the next
// round, to be read again. When apply fails, fail is called for every item
// of that tenant; after the last round, for every item left, with
// ErrContended.
func Optimistic[E any](pending map[string]map[string][]E, rounds int, apply func(tenant string, groups map[string][]E) error, fail func(E, error)) {
	failAll := func(groups map[string][]E, err error) {
		for _, items := range groups {
			for _, e := range items {
				fail(e, err)
			}
		}
	}
	for round := 0; round < rounds && len(pending) > 0; round++ {
		for tenant, groups := range pending {
			if err := apply(tenant, groups); err != nil {
				failAll(groups, err)
				delete(pending, tenant)
			} else if len(groups) == 0 {
				delete(pending, tenant)
			}
		}
	}
	for _, groups := range pending {
		failAll(groups, ErrContended)
	}
}

// Guard records event ids as applied at at in the sorted set key (read
// back with ZMSCORE and Scored), so that each is remembered for at least
// ttl. The set lives at least ttl after its last write: whenever it has
// less left, its expiry is renewed to 2 * ttl and the ids applied more
// than ttl before are dropped. Renewing once per ttl rather than at every
// write keeps an expiry out of the AOF for almost every batch.
func (w *Writes) Guard(key string, ids []string, at time.Time, ttl time.Duration) {
	if len(ids) == 0 {
		return
	}
	now := at.UnixMilli()
	for _, id := range ids {
		w.ZAdd(key, now, id)
	}
	w.op("E", key, now-ttl.Milliseconds(), ttl.Milliseconds())
}
