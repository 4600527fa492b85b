package redisx_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

func TestWritesApplyOnlyWhenTheirConditionsHold(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx, c := context.Background(), r.Client
	c.HSet(ctx, "{t}:a", "v", "1")
	c.HSet(ctx, "{t}:counts", "x", 2)
	c.ZAdd(ctx, "{t}:z", redis.Z{Score: 1, Member: "old"}, redis.Z{Score: 5, Member: "new"})
	c.Set(ctx, "{t}:gone", "1", 0)

	var w redisx.Writes
	w.Section(redisx.Cond{Key: "{t}:a", Field: "v", Want: "1"}, redisx.Cond{Key: "{t}:tomb", Field: "a", Want: ""})
	w.HSet("{t}:a", "r", "record")
	w.HIncrBy("{t}:counts", "x", -2) // reaches 0: the field goes
	w.HIncrBy("{t}:counts", "y", 3)
	w.ZAdd("{t}:z", 7, "added")
	w.ZRem("{t}:z", "new")
	w.Del("{t}:gone")
	w.HSet("{t}:a", "v", "2")
	w.Section(redisx.Cond{Key: "{t}:b", Field: "v", Want: "3"}) // b has no version: fails
	w.HSet("{t}:b", "r", "lost")
	w.Section() // no condition: always written
	w.HSet("{t}:c", "r", "free")
	done, err := w.Run(ctx, c, func(p redis.Pipeliner) { p.Set(ctx, "{t}:also", "sent", 0) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, []bool{true, false, true}) {
		t.Fatalf("done = %v", done)
	}
	if got := c.HGetAll(ctx, "{t}:a").Val(); got["v"] != "2" || got["r"] != "record" {
		t.Errorf("a = %v", got)
	}
	if got := c.HGetAll(ctx, "{t}:counts").Val(); len(got) != 1 || got["y"] != "3" {
		t.Errorf("counts = %v", got)
	}
	if got := c.ZRange(ctx, "{t}:z", 0, -1).Val(); !slices.Equal(got, []string{"old", "added"}) {
		t.Errorf("z = %v", got)
	}
	if c.Exists(ctx, "{t}:gone", "{t}:b").Val() != 0 || c.HGet(ctx, "{t}:c", "r").Val() != "free" {
		t.Error("del, the failed section or the free one is wrong")
	}
	if c.Get(ctx, "{t}:also").Val() != "sent" {
		t.Error("what Run was also given was not sent")
	}
}

// calls counts the commands Redis ran since the last count, scripts'
// included: what a script writes is what goes to the AOF.
func calls(t *testing.T, r *testkit.Redis) map[string]string {
	t.Helper()
	got := map[string]string{}
	for name, stats := range r.Info(t, "commandstats") {
		n, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		got[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	if err := r.Client.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWritesSendEachWriteOnce(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx, c := context.Background(), r.Client
	c.HSet(ctx, "{t}:n", "gone", 2)
	calls(t, r)

	// Three sections: two written, one not. The increments of the two are
	// summed, one HINCRBY a field; a field whose sum is 0 is not touched;
	// the failed section's increments count for nothing.
	var w redisx.Writes
	w.Section()
	w.HIncrBy("{t}:n", "a", 5)
	w.HIncrBy("{t}:n", "b", 1)
	w.HIncrBy("{t}:n", "gone", -1)
	w.HSet("{t}:x", "r", "record")
	w.HSet("{t}:x", "v", 1)
	w.Section(redisx.Cond{Key: "{t}:y", Field: "v", Want: "9"})
	w.HIncrBy("{t}:n", "a", 100)
	w.HSet("{t}:y", "r", "lost")
	w.Section()
	w.HIncrBy("{t}:n", "a", 2)
	w.HIncrBy("{t}:n", "b", -1)
	w.HIncrBy("{t}:n", "gone", -1)
	w.HSet("{t}:z", "r", "record")
	w.HSet("{t}:x", "other", "later")
	done, err := w.Run(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, []bool{true, false, true}) {
		t.Fatalf("done = %v", done)
	}
	if got := c.HGetAll(ctx, "{t}:n").Val(); len(got) != 1 || got["a"] != "7" {
		t.Errorf("counters = %v, want a=7 alone (b summed to 0, gone reached 0)", got)
	}
	if got := c.HGetAll(ctx, "{t}:x").Val(); got["r"] != "record" || got["v"] != "1" || got["other"] != "later" {
		t.Errorf("x = %v", got)
	}
	// x's r and v as one HSET, z's, x's other; a and gone as one HINCRBY
	// each (b's sum is 0), and the HDEL of gone.
	got := calls(t, r)
	if got["hset"] != "3" || got["hincrby"] != "2" || got["hdel"] != "1" {
		t.Errorf("calls: hset %s, hincrby %s, hdel %s; want 3, 2, 1", got["hset"], got["hincrby"], got["hdel"])
	}
}

func TestGuardRenewsItsExpiryOnlyWhenDue(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx, c := context.Background(), r.Client
	const key = "{t}:g"
	ttl := time.Hour
	t0 := time.Now()
	guard := func(at time.Time, ids ...string) {
		t.Helper()
		var w redisx.Writes
		w.Section()
		w.Guard(key, ids, at, ttl)
		if _, err := w.Run(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A new set: an expiry of 2 * ttl.
	guard(t0.Add(-90*time.Minute), "old")
	if pttl := c.PTTL(ctx, key).Val(); pttl <= ttl || pttl > 2*ttl {
		t.Fatalf("first guard: ttl %v, want (%v, %v]", pttl, ttl, 2*ttl)
	}
	// More than ttl left: no expiry written, nothing dropped.
	calls(t, r)
	guard(t0, "new")
	if got := calls(t, r); got["pexpire"] != "" || got["zremrangebyscore"] != "" {
		t.Errorf("renewed with more than ttl left: pexpire %q, zremrangebyscore %q", got["pexpire"], got["zremrangebyscore"])
	}
	if got := c.ZRange(ctx, key, 0, -1).Val(); !slices.Equal(got, []string{"old", "new"}) {
		t.Errorf("ids = %v", got)
	}
	// Less than ttl left: renewed to 2 * ttl, and the id applied more
	// than ttl before is dropped.
	c.PExpire(ctx, key, ttl/2)
	guard(t0, "newer")
	if pttl := c.PTTL(ctx, key).Val(); pttl <= ttl {
		t.Errorf("not renewed: ttl %v", pttl)
	}
	if got := c.ZRange(ctx, key, 0, -1).Val(); !slices.Equal(got, []string{"new", "newer"}) {
		t.Errorf("ids after renewal = %v, want old dropped", got)
	}
}

// BenchmarkWrites commits batches shaped like segmentation's: 20
// customers, each with its guard, three index moves, five report counters
// shared by the batch, and its record and version. It reports Redis's CPU
// per batch beside the round trip:
//
//	go test -run '^$' -bench Writes -count 6 ./pkg/redisx | tee writes.txt; benchstat writes.txt
func BenchmarkWrites(b *testing.B) {
	r := testkit.StartRedis(b)
	ctx, c := context.Background(), r.Client
	record := strings.Repeat("r", 200)
	at := time.Now()
	batch := func(n int) *redisx.Writes {
		var w redisx.Writes
		for i := range 20 {
			customer := "{t}:c:" + strconv.Itoa((n*20+i)%5000)
			w.Section(redisx.Cond{Key: customer, Field: "x", Want: ""})
			w.Guard("{t}:g:"+customer, []string{"ev-" + strconv.Itoa(n*20+i)}, at, time.Hour)
			w.ZAdd("{t}:risk", float64(n%1000)/1000, customer)
			w.ZAdd("{t}:tier:risk", float64(n%1000)/1000, customer)
			w.ZAdd("{t}:due", at.UnixMilli()+int64(n), customer)
			for _, f := range []string{"new|n", "new|risk", "new|sat", "new|rated", "new|nps:passive"} {
				w.HIncrBy("{t}:report", f, int64(n%7+1))
			}
			w.HSet(customer, "r", record)
			w.HSet(customer, "v", n)
		}
		return &w
	}
	cpu := r.CPUTime()
	b.ResetTimer()
	for n := range b.N {
		if _, err := batch(n).Run(ctx, c, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((r.CPUTime()-cpu).Microseconds())/float64(b.N), "redis-µs/op")
}
