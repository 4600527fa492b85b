// Package redisx builds the Redis client every service uses and runs Lua
// scripts, alone or many to a pipeline.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/pkg/config"
)

// Config says how to reach Redis.
type Config struct {
	// URL: redis://[user:pass@]host:port/db, rediss:// for TLS, or
	// unix:///path/to/redis.sock?db=0.
	URL string
	// Password, when set, overrides the URL's (keeps secrets out of URLs).
	Password string
}

// ConfigFromEnv reads FEEDLOOP_REDIS_URL (default redis://127.0.0.1:6379/0)
// and FEEDLOOP_REDIS_PASSWORD.
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		URL:      env.String("FEEDLOOP_REDIS_URL", "redis://127.0.0.1:6379/0"),
		Password: env.String("FEEDLOOP_REDIS_PASSWORD", ""),
	}
}

// New connects to Redis, instruments the client with OpenTelemetry (command
// names only: statements may hold customer data) and checks it answers.
func New(ctx context.Context, cfg Config) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("FEEDLOOP_REDIS_URL: %w", err)
	}
	if cfg.Password != "" {
		opts.Password = cfg.Password
	}
	// A caller's deadline bounds every command, retries included, so a
	// service can decide how long Redis may hold up a request.
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	c.AddHook(newTracing())
	if err := redisotel.InstrumentMetrics(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("instrument redis: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pingCtx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	return c, nil
}

// Script is a Lua script run by its SHA, loaded into Redis on demand.
type Script struct{ s *redis.Script }

// NewScript wraps Lua source.
func NewScript(src string) *Script { return &Script{s: redis.NewScript(src)} }

// Run runs the script, loading it first if Redis does not have it.
func (s *Script) Run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	return s.s.Run(ctx, c, keys, args...)
}

// Queue adds a run of the script to a pipeline, by SHA. Use it within
// Pipelined, which loads the script when Redis lacks it.
func (s *Script) Queue(ctx context.Context, p redis.Pipeliner, keys []string, args ...any) *redis.Cmd {
	return s.s.EvalSha(ctx, p, keys, args...)
}

// Pipelined sends every command fill queues in one round trip. When Redis
// has lost a script (a restart, a SCRIPT FLUSH) it loads scripts and sends
// the pipeline once more, calling fill a second time (so fill must only
// queue commands, and keep the second round's results); the scripts must
// be idempotent, as all feedloop scripts are. As with go-redis, the error is the first failed
// command's; each command carries its own result.
func Pipelined(ctx context.Context, c redis.Cmdable, scripts []*Script, fill func(redis.Pipeliner)) ([]redis.Cmder, error) {
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil })
	if !hasNoScript(cmds) {
		return cmds, err
	}
	for _, s := range scripts {
		if err := s.s.Load(ctx, c).Err(); err != nil {
			return nil, fmt.Errorf("load script: %w", err)
		}
	}
	return c.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil })
}

func hasNoScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if err := c.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// Scored returns which of members the ZMSCORE cmd found (nil when none).
// go-redis reads ZMSCORE's nil as 0, so the members must be scored above 0,
// e.g. by the time they were added.
func Scored(cmd *redis.FloatSliceCmd, members []string) map[string]bool {
	var found map[string]bool
	for i, score := range cmd.Val() {
		if score > 0 {
			if found == nil {
				found = map[string]bool{}
			}
			found[members[i]] = true
		}
	}
	return found
}

// IgnoreNil is err, except redis.Nil (a missing key or field), which is
// nil.
func IgnoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
