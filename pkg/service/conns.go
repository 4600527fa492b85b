package service

import (
	"context"
	"log/slog"
	"time"

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

// Close drains NATS and waits, up to the drain timeout, until pending
// publishes and acks are out and the connection is closed; then it closes
// Redis.
func (c *Conns) Close() {
	if err := c.NATS.Drain(); err != nil {
		c.log.Warn("nats drain", "err", err)
	}
	deadline := time.Now().Add(c.NATS.Opts.DrainTimeout)
	for !c.NATS.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !c.NATS.IsClosed() {
		c.log.Warn("nats drain did not finish in time", "timeout", c.NATS.Opts.DrainTimeout)
		c.NATS.Close()
	}
	_ = c.Redis.Close()
}
