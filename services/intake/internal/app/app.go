// Package app assembles the intake service from its configuration: Redis,
// NATS, the FEEDBACK stream and the gRPC server. Tests build it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/intake/internal/admit"
	"github.com/feedloop/feedloop/services/intake/internal/api"
	"github.com/feedloop/feedloop/services/intake/internal/store"
)

// Config is everything intake needs.
type Config struct {
	GRPC   grpcx.Config
	Bus    bus.Config
	Redis  redisx.Config
	Policy admit.Policy
	// DedupTTL is how long event ids are remembered.
	DedupTTL time.Duration
}

// ConfigFromEnv reads the shared settings plus FEEDLOOP_INTAKE_DEDUP_TTL
// (48h, at least 24h), FEEDLOOP_INTAKE_MAX_EVENT_AGE (8760h: a year) and
// FEEDLOOP_INTAKE_MAX_CLOCK_SKEW (5m).
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		GRPC:  grpcx.ConfigFromEnv(env, ":8081"),
		Bus:   bus.ConfigFromEnv(env),
		Redis: redisx.ConfigFromEnv(env),
		Policy: admit.Policy{
			MaxAge:  env.Duration("FEEDLOOP_INTAKE_MAX_EVENT_AGE", 365*24*time.Hour),
			MaxSkew: env.Duration("FEEDLOOP_INTAKE_MAX_CLOCK_SKEW", 5*time.Minute),
		},
		DedupTTL: env.Duration("FEEDLOOP_INTAKE_DEDUP_TTL", 48*time.Hour),
	}
	if c.DedupTTL < 24*time.Hour {
		env.Fail("FEEDLOOP_INTAKE_DEDUP_TTL", "must be at least 24h, got %s", c.DedupTTL)
	}
	if c.Policy.MaxAge <= 0 || c.Policy.MaxSkew < 0 {
		env.Fail("FEEDLOOP_INTAKE_MAX_EVENT_AGE", "and FEEDLOOP_INTAKE_MAX_CLOCK_SKEW must be positive")
	}
	return c
}

// App is a running intake service.
type App struct {
	srv   *grpcx.Server
	svc   *api.Service
	conns *service.Conns
}

// New connects to Redis and NATS, makes sure the FEEDBACK stream exists, and
// builds the gRPC server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	conns, err := service.Connect(ctx, "intake", cfg.Bus, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) { conns.Close(); return nil, err }
	if _, err := bus.EnsureStream(ctx, conns.JS, cfg.Bus, bus.FeedbackStream); err != nil {
		return fail(err)
	}
	fallback, err := grpcx.NewValidator()
	if err != nil {
		return fail(err)
	}
	valid := admit.Validator{Policy: cfg.Policy, Now: time.Now, Fallback: fallback}
	a := &App{conns: conns}
	if a.svc, err = api.New(bus.NewPublisher(conns.JS, "feedloop/intake"), store.New(conns.Redis, cfg.DedupTTL), valid, log); err != nil {
		return fail(err)
	}
	if a.srv, err = grpcx.New(cfg.GRPC, log, grpcx.WithValidation(valid.Violations)); err != nil {
		return fail(fmt.Errorf("grpc server: %w", err))
	}
	intakev1.RegisterIntakeServiceServer(a.srv.GRPC, a.svc)
	return a, nil
}

// Listen opens the gRPC address.
func (a *App) Listen() (net.Listener, error) { return a.srv.Listen() }

// Run serves on ln until ctx ends, then shuts down in order: health
// NOT_SERVING, finish in-flight calls, finish recording event ids, drain
// NATS, close Redis.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := a.srv.Run(ctx, ln)
	a.svc.Wait()
	a.conns.Close()
	return err
}
