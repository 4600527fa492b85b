package service

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/redisx"
)

// Conns are a service's connections to Redis and NATS.
type Conns struct {
	Redis *redis.Client
	NATS  *nats.Conn
	JS    jetstream.JetStream
	log   *slog.Logger
}

// Connect opens Redis, then NATS (as client name "feedloop-<name>").
func Connect(ctx context.Context, name string, busCfg bus.Config, redisCfg redisx.Config, log *slog.Logger) (*Conns, error) {
	rdb, err := redisx.New(ctx, redisCfg)
	if err != nil {
		return nil, err
	}
	nc, js, err := bus.Connect(busCfg, "feedloop-"+name, log)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return &Conns{Redis: rdb, NATS: nc, JS: js, log: log}, nil
}

// Close drains NATS (pending publishes and acks go out) and closes Redis.
func (c *Conns) Close() {
	if err := c.NATS.Drain(); err != nil {
		c.log.Warn("nats drain", "err", err)
	}
	_ = c.Redis.Close()
}
