package redisx_test

import (
	"context"
	"slices"
	"testing"

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
	w.ZTrim("{t}:z", 2)
	w.PExpire("{t}:z", 60_000)
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
	if got := c.ZRange(ctx, "{t}:z", 0, -1).Val(); !slices.Equal(got, []string{"added"}) || c.PTTL(ctx, "{t}:z").Val() <= 0 {
		t.Errorf("z = %v, ttl %v", got, c.PTTL(ctx, "{t}:z").Val())
	}
	if c.Exists(ctx, "{t}:gone", "{t}:b").Val() != 0 || c.HGet(ctx, "{t}:c", "r").Val() != "free" {
		t.Error("del, the failed section or the free one is wrong")
	}
	if c.Get(ctx, "{t}:also").Val() != "sent" {
		t.Error("what Run was also given was not sent")
	}
}
