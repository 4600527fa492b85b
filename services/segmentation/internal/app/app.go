// Package app assembles the segmentation service from its configuration:
// Redis, NATS, the CUSTOMERS stream, the pipeline's two consumers, the
// sweep and the gRPC API. Tests build it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/segmentation/internal/api"
	"github.com/feedloop/feedloop/services/segmentation/internal/pipeline"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

// Config is everything segmentation needs.
type Config struct {
	GRPC     grpcx.Config
	Bus      bus.Config
	Redis    redisx.Config
	Profiles profile.Configs
	Rules    *tiers.Rules
	GuardTTL time.Duration
	Sweep    pipeline.SweepConfig
	// Now is the clock (tests move it); time.Now by default.
	Now func() time.Time
}

// ConfigFromEnv reads the shared settings plus (defaults in brackets):
// FEEDLOOP_SEGMENTATION_TIERS [the built-in default.yaml] the tier rule
// file; FEEDLOOP_SEGMENTATION_CONFIG [built-in defaults] the file of RFM
// boundaries, currency and churn weights, per tenant;
// FEEDLOOP_SEGMENTATION_DEDUP_TTL [48h, at least 1h] how long applied event
// ids are remembered; FEEDLOOP_SEGMENTATION_SWEEP_INTERVAL [1m],
// FEEDLOOP_SEGMENTATION_SWEEP_BATCH [500] and
// FEEDLOOP_SEGMENTATION_SWEEP_PER_TICK [20000] (customers per tenant per
// tick). A file that does not load is reported with the others.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		GRPC:     grpcx.ConfigFromEnv(env, ":8083"),
		Bus:      bus.ConfigFromEnv(env),
		Redis:    redisx.ConfigFromEnv(env),
		GuardTTL: env.Duration("FEEDLOOP_SEGMENTATION_DEDUP_TTL", 48*time.Hour),
		Sweep: pipeline.SweepConfig{
			Interval: env.Duration("FEEDLOOP_SEGMENTATION_SWEEP_INTERVAL", time.Minute),
			Batch:    env.Int("FEEDLOOP_SEGMENTATION_SWEEP_BATCH", 500),
			PerTick:  env.Int("FEEDLOOP_SEGMENTATION_SWEEP_PER_TICK", 20000),
		},
		Now: time.Now,
	}
	if c.GuardTTL < time.Hour {
		env.Fail("FEEDLOOP_SEGMENTATION_DEDUP_TTL", "must be at least 1h, got %s", c.GuardTTL)
	}
	if c.Sweep.Interval < time.Second {
		env.Fail("FEEDLOOP_SEGMENTATION_SWEEP_INTERVAL", "must be at least 1s, got %s", c.Sweep.Interval)
	}
	if c.Sweep.Batch < 1 || c.Sweep.Batch > 10000 {
		env.Fail("FEEDLOOP_SEGMENTATION_SWEEP_BATCH", "must be 1 to 10000, got %d", c.Sweep.Batch)
	}
	if c.Sweep.PerTick < c.Sweep.Batch {
		env.Fail("FEEDLOOP_SEGMENTATION_SWEEP_PER_TICK", "must be at least FEEDLOOP_SEGMENTATION_SWEEP_BATCH, got %d", c.Sweep.PerTick)
	}
	c.Rules = config.File(env, "FEEDLOOP_SEGMENTATION_TIERS", tiers.Load, tiers.Default)
	c.Profiles = config.File(env, "FEEDLOOP_SEGMENTATION_CONFIG", profile.LoadConfigs, func() (profile.Configs, error) {
		return profile.Configs{Default: profile.Default()}, nil
	})
	return c
}

// load reads a file and parses it with parse.
// App is a running segmentation service.
type App struct {
	srv   *grpcx.Server
	conns *service.Conns
	run   []func(context.Context) error
}

// New connects to Redis and NATS, makes sure the CUSTOMERS stream exists,
// and builds the pipeline, the sweep and the gRPC server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	conns, err := service.Connect(ctx, "segmentation", cfg.Bus, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	if _, err := bus.EnsureStream(ctx, conns.JS, cfg.Bus, bus.CustomersStream); err != nil {
		conns.Close()
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	eval := segment.NewEvaluator(cfg.Profiles, cfg.Rules)
	st := store.New(conns.Redis, cfg.GuardTTL)
	pub := bus.NewPublisher(conns.JS, "feedloop/segmentation")
	pipe := pipeline.New(eval, st, pub, now, log)
	host, _ := os.Hostname()
	sweep := pipeline.NewSweeper(cfg.Sweep, eval, st, pub, now, host+"/"+strconv.Itoa(os.Getpid()), log)
	a := &App{conns: conns}
	if a.srv, err = grpcx.New(cfg.GRPC, log); err != nil {
		conns.Close()
		return nil, fmt.Errorf("grpc server: %w", err)
	}
	segmentationv1.RegisterSegmentationServiceServer(a.srv.GRPC, api.New(eval, st, pub, now))
	for _, spec := range []bus.ConsumerSpec{pipeline.ScoredConsumer, pipeline.ActivityConsumer} {
		a.run = append(a.run, func(ctx context.Context) error {
			return bus.Consume(ctx, conns.JS, cfg.Bus, spec, pub, log, pipe.Handle)
		})
	}
	a.run = append(a.run, sweep.Run)
	return a, nil
}

// Listen opens the gRPC address.
func (a *App) Listen() (net.Listener, error) { return a.srv.Listen() }

// Run serves the API and runs the consumers and the sweep until ctx ends;
// then the server finishes in-flight calls and the consumers the batches in
// hand, and NATS and Redis are closed.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := service.Serve(ctx, a.srv, ln, a.run...)
	a.conns.Close()
	return err
}
