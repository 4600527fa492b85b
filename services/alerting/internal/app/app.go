// Package app assembles the alerting service from its configuration:
// Redis, NATS, the RECOVERY stream, the pipeline's consumer and the gRPC
// server. Tests build it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/alerting/internal/api"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/pipeline"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Config is everything alerting needs.
type Config struct {
	GRPC     grpcx.Config
	Bus      bus.Config
	Redis    redisx.Config
	Rules    *rules.Rules
	SLA      cases.SLA
	GuardTTL time.Duration
}

// ConfigFromEnv reads the shared settings plus (defaults in brackets):
// FEEDLOOP_ALERTING_RULES [the built-in default.yaml] the rule file; a file
// that does not load is reported with the other bad settings;
// FEEDLOOP_ALERTING_DEDUP_TTL [48h, at least 1h] how long applied event ids
// are remembered. The SLA is cases.DefaultSLA.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		GRPC:     grpcx.ConfigFromEnv(env, ":8084"),
		Bus:      bus.ConfigFromEnv(env),
		Redis:    redisx.ConfigFromEnv(env),
		SLA:      cases.DefaultSLA(),
		GuardTTL: env.Duration("FEEDLOOP_ALERTING_DEDUP_TTL", 48*time.Hour),
	}
	if c.GuardTTL < time.Hour {
		env.Fail("FEEDLOOP_ALERTING_DEDUP_TTL", "must be at least 1h, got %s", c.GuardTTL)
	}
	var err error
	if path := env.String("FEEDLOOP_ALERTING_RULES", ""); path != "" {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			c.Rules, err = rules.Load(f, path)
			f.Close()
		}
	} else {
		c.Rules, err = rules.Default()
	}
	if err != nil {
		env.Fail("FEEDLOOP_ALERTING_RULES", "%v", err)
	}
	return c
}

// App is a running alerting service.
type App struct {
	srv   *grpcx.Server
	conns *service.Conns
	run   func(context.Context) error
}

// New connects to Redis and NATS, makes sure the RECOVERY stream exists,
// and builds the pipeline and the gRPC server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	conns, err := service.Connect(ctx, "alerting", cfg.Bus, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	if _, err := bus.EnsureStream(ctx, conns.JS, cfg.Bus, bus.RecoveryStream); err != nil {
		conns.Close()
		return nil, err
	}
	pub := bus.NewPublisher(conns.JS, "feedloop/alerting")
	st := store.New(conns.Redis, cfg.GuardTTL)
	pipe := pipeline.New(cfg.Rules, st, pub, cfg.SLA)
	a := &App{conns: conns, run: func(ctx context.Context) error {
		return bus.Consume(ctx, conns.JS, cfg.Bus, pipeline.Consumer, pub, log, pipe.Handle)
	}}
	if a.srv, err = grpcx.New(cfg.GRPC, log); err != nil {
		conns.Close()
		return nil, fmt.Errorf("grpc server: %w", err)
	}
	alertingv1.RegisterAlertingServiceServer(a.srv.GRPC, api.New(st, conns.JS, cfg.SLA))
	return a, nil
}

// Listen opens the gRPC address.
func (a *App) Listen() (net.Listener, error) { return a.srv.Listen() }

// Run serves and consumes until ctx ends; then the consumer finishes the
// batch in hand, and NATS and Redis are closed.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := service.Serve(ctx, a.srv, ln, a.run)
	a.conns.Close()
	return err
}
