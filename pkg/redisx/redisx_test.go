package redisx_test

import (
	"context"
	"testing"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

// incrOnce adds to a counter once per id (KEYS[2] records the id): the
// shape of every feedloop script, with all keys declared and hash-tagged.
var incrOnce = redisx.NewScript(`
if redis.call('SET', KEYS[2], 1, 'NX') then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return tonumber(redis.call('GET', KEYS[1]))
`)

func TestNewFromURL(t *testing.T) {
	r := testkit.StartRedis(t)
	c, err := redisx.New(context.Background(), redisx.Config{URL: r.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := redisx.New(context.Background(), redisx.Config{URL: "ftp://nope"}); err == nil {
		t.Error("New accepted a bad URL")
	}
}

func TestPipelinedReloadsFlushedScripts(t *testing.T) {
	ctx := context.Background()
	c := testkit.StartRedis(t).Client
	run := func(id string) int64 {
		t.Helper()
		var cmd *redis.Cmd
		_, err := redisx.Pipelined(ctx, c, []*redisx.Script{incrOnce}, func(p redis.Pipeliner) {
			cmd = incrOnce.Queue(ctx, p, []string{"fl:{t:c}:counter", "fl:{t:c}:seen:" + id}, 5)
		})
		if err != nil {
			t.Fatalf("Pipelined: %v", err)
		}
		n, err := cmd.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := run("a"); got != 5 {
		t.Fatalf("first run = %d, want 5", got)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got := run("a"); got != 5 {
		t.Fatalf("repeat after flush = %d, want 5 (idempotent)", got)
	}
	if got := run("b"); got != 10 {
		t.Fatalf("second id = %d, want 10", got)
	}
	if got, err := incrOnce.Run(ctx, c, []string{"fl:{t:c}:counter", "fl:{t:c}:seen:c"}, 1).Int64(); err != nil || got != 11 {
		t.Fatalf("Run = %d, %v; want 11", got, err)
	}
}
