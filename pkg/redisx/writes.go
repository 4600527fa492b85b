package redisx

import (
	"context"
	_ "embed"
	"fmt"

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
func (w *Writes) HIncrBy(key, field string, delta int64) { w.op("I", key, field, delta) }

// ZTrim removes the sorted-set members scored at most max.
func (w *Writes) ZTrim(key string, max any) { w.op("T", key, max, "") }

// PExpire sets a key's time to live in milliseconds.
func (w *Writes) PExpire(key string, ms int64) { w.op("P", key, ms, "") }

// Del deletes a key.
func (w *Writes) Del(key string) { w.op("D", key, "", "") }

// Sections is how many sections the batch holds.
func (w *Writes) Sections() int { return w.sections }

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
