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
	"strconv"
	"time"

	"golang.org/x/time/rate"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/alerting/internal/announce"
	"github.com/feedloop/feedloop/services/alerting/internal/api"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/deliver"
	"github.com/feedloop/feedloop/services/alerting/internal/notify"
	"github.com/feedloop/feedloop/services/alerting/internal/pipeline"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
	"github.com/feedloop/feedloop/services/alerting/internal/schedule"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Config is everything alerting needs.
type Config struct {
	GRPC     grpcx.Config
	Bus      bus.Config
	Redis    redisx.Config
	Rules    *rules.Rules
	Routes   *routing.Tree
	SLA      cases.SLA
	GuardTTL time.Duration
	Schedule schedule.Config
	// Senders are the receivers configured here, by name, each behind its
	// rate limit; Disabled the receivers of the routing file left
	// unconfigured, which get no deliveries.
	Senders  map[string]notify.Sender
	Disabled []string
	Delivery deliver.Config
	// DeliveryAttempts bounds the attempts at one delivery before it is
	// dead-lettered; DeliveryRate is each receiver's rate limit, per second.
	DeliveryAttempts int
	DeliveryRate     float64
	// Now is the clock of case changes; nil means time.Now.
	Now func() time.Time
}

// ConfigFromEnv reads the shared settings plus (defaults in brackets):
// FEEDLOOP_ALERTING_RULES [the built-in rules] the rule file and
// FEEDLOOP_ALERTING_ROUTES [the built-in routing] the routing file (a file
// that does not load is reported with the other bad settings);
// FEEDLOOP_ALERTING_DEDUP_TTL [48h, at least 1h] how long applied event ids
// are remembered; FEEDLOOP_ALERTING_SCHEDULE_INTERVAL [5s],
// FEEDLOOP_ALERTING_SCHEDULE_BATCH [200] and
// FEEDLOOP_ALERTING_SCHEDULE_PER_TICK [5000] (cases per tenant per tick)
// for escalations and follow-ups; FEEDLOOP_ALERTING_DELIVERY_ATTEMPTS [10],
// FEEDLOOP_ALERTING_DELIVERY_BACKOFF [1s] and
// FEEDLOOP_ALERTING_DELIVERY_BACKOFF_MAX [5m] for the retries of a
// notification, FEEDLOOP_ALERTING_DELIVERY_TIMEOUT [10s] per attempt, and
// FEEDLOOP_ALERTING_DELIVERY_RATE [10] notifications per second per
// receiver (a burst of as many). FEEDLOOP_ALERTING_SLA [critical=15m/4h,
// high=1h/24h, medium=4h/72h, low=24h/168h] sets, per severity named, how
// soon a case must be acknowledged and resolved;
// FEEDLOOP_ALERTING_FOLLOW_UP_AFTER [72h] is when a resolved case's
// follow-up is due and FEEDLOOP_ALERTING_COOL_DOWN [24h] how long after
// resolution matches no more severe open no new case. Each receiver of the routing file reads the
// variables the file names for it (URL, routing key, secret); a receiver
// whose URL (or PagerDuty routing key) is unset is disabled, one set but
// invalid fails start-up.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		GRPC:     grpcx.ConfigFromEnv(env, ":8084"),
		Bus:      bus.ConfigFromEnv(env),
		Redis:    redisx.ConfigFromEnv(env),
		SLA:      cases.DefaultSLA(),
		GuardTTL: env.Duration("FEEDLOOP_ALERTING_DEDUP_TTL", 48*time.Hour),
		Schedule: schedule.Config{
			Interval: env.Duration("FEEDLOOP_ALERTING_SCHEDULE_INTERVAL", 5*time.Second),
			Batch:    env.Int("FEEDLOOP_ALERTING_SCHEDULE_BATCH", 200),
			PerTick:  env.Int("FEEDLOOP_ALERTING_SCHEDULE_PER_TICK", 5000),
		},
		Delivery: deliver.Config{
			BackoffBase: env.Duration("FEEDLOOP_ALERTING_DELIVERY_BACKOFF", time.Second),
			BackoffMax:  env.Duration("FEEDLOOP_ALERTING_DELIVERY_BACKOFF_MAX", 5*time.Minute),
			Timeout:     env.Duration("FEEDLOOP_ALERTING_DELIVERY_TIMEOUT", 10*time.Second),
		},
		DeliveryAttempts: env.Int("FEEDLOOP_ALERTING_DELIVERY_ATTEMPTS", 10),
	}
	if c.GuardTTL < time.Hour {
		env.Fail("FEEDLOOP_ALERTING_DEDUP_TTL", "must be at least 1h, got %s", c.GuardTTL)
	}
	sla, err := cases.ParseDeadlines(env.String("FEEDLOOP_ALERTING_SLA", ""), c.SLA)
	if err != nil {
		env.Fail("FEEDLOOP_ALERTING_SLA", "%v", err)
	} else {
		c.SLA = sla
	}
	c.SLA.FollowUpAfter = env.Duration("FEEDLOOP_ALERTING_FOLLOW_UP_AFTER", c.SLA.FollowUpAfter)
	c.SLA.CoolDown = env.Duration("FEEDLOOP_ALERTING_COOL_DOWN", c.SLA.CoolDown)
	if err := c.SLA.Validate(); err != nil {
		env.Fail("FEEDLOOP_ALERTING_SLA", "%v", err)
	}
	if c.Schedule.Interval <= 0 || c.Schedule.Batch < 1 || c.Schedule.PerTick < c.Schedule.Batch {
		env.Fail("FEEDLOOP_ALERTING_SCHEDULE_INTERVAL", "the interval must be positive, the batch at least 1 and the per-tick bound at least the batch")
	}
	if c.DeliveryAttempts < 1 {
		env.Fail("FEEDLOOP_ALERTING_DELIVERY_ATTEMPTS", "must be at least 1, got %d", c.DeliveryAttempts)
	}
	if c.Delivery.BackoffBase <= 0 || c.Delivery.BackoffMax < c.Delivery.BackoffBase {
		env.Fail("FEEDLOOP_ALERTING_DELIVERY_BACKOFF", "must be positive and at most FEEDLOOP_ALERTING_DELIVERY_BACKOFF_MAX")
	}
	if c.Delivery.Timeout < time.Second || c.Delivery.Timeout > c.Bus.AckWait/2 {
		env.Fail("FEEDLOOP_ALERTING_DELIVERY_TIMEOUT", "must be at least 1s and at most half of FEEDLOOP_CONSUMER_ACK_WAIT (%s)", c.Bus.AckWait)
	}
	c.Rules = config.File(env, "FEEDLOOP_ALERTING_RULES", rules.Load, rules.Default)
	if c.Routes = config.File(env, "FEEDLOOP_ALERTING_ROUTES", routing.Load, routing.Default); c.Routes == nil {
		return c // reported; the receivers cannot be read without it
	}
	perSecond := env.Float("FEEDLOOP_ALERTING_DELIVERY_RATE", 10)
	if perSecond <= 0 {
		env.Fail("FEEDLOOP_ALERTING_DELIVERY_RATE", "must be positive, got %v", perSecond)
	}
	c.DeliveryRate = perSecond
	c.Senders = map[string]notify.Sender{}
	getenv := func(name string) string { return env.String(name, "") }
	for _, r := range c.Routes.Receivers() {
		required := r.URLEnv
		if r.Kind == routing.PagerDuty {
			required = r.RoutingKeyEnv
		}
		if getenv(required) == "" {
			c.Disabled = append(c.Disabled, r.Name)
			continue
		}
		s, err := notify.New(r, getenv, nil)
		if err != nil {
			env.Fail(required, "%v", err)
			continue
		}
		burst := max(1, int(perSecond))
		c.Senders[r.Name] = notify.Limited(s, r.Name, rate.NewLimiter(rate.Limit(perSecond), burst))
	}
	return c
}

// App is a running alerting service.
type App struct {
	srv   *grpcx.Server
	conns *service.Conns
	run   []func(context.Context) error
}

// New connects to Redis and NATS, makes sure the RECOVERY and DELIVERY
// streams exist, and builds the pipeline, the scheduler, the two delivery
// stages and the gRPC server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	conns, err := service.Connect(ctx, "alerting", cfg.Bus, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	for _, s := range []bus.Stream{bus.RecoveryStream, bus.DeliveryStream} {
		if _, err := bus.EnsureStream(ctx, conns.JS, cfg.Bus, s); err != nil {
			conns.Close()
			return nil, err
		}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if len(cfg.Disabled) > 0 {
		log.Warn("receivers not configured get no notifications", "receivers", cfg.Disabled)
	}
	pub := bus.NewPublisher(conns.JS, "feedloop/alerting")
	st := store.New(conns.Redis, cfg.GuardTTL)
	ann := announce.New(st, pub, now, log)
	pipe := pipeline.New(cfg.Rules, st, pub, cfg.SLA)
	host, _ := os.Hostname()
	sched := schedule.New(cfg.Schedule, st, ann, cfg.SLA, now, host+"/"+strconv.Itoa(os.Getpid()), log)
	enabled := map[string]bool{}
	for name := range cfg.Senders {
		enabled[name] = true
	}
	dispatch := deliver.NewDispatcher(cfg.Routes, enabled, pub)
	send := deliver.NewSender(cfg.Senders, st, cfg.Delivery, now)
	a := &App{conns: conns, run: []func(context.Context) error{
		func(ctx context.Context) error {
			return bus.Consume(ctx, conns.JS, cfg.Bus, pipeline.Consumer, pub, log, pipe.Handle)
		},
		func(ctx context.Context) error {
			return bus.Consume(ctx, conns.JS, cfg.Bus, deliver.DispatchConsumer, pub, log, dispatch.Handle)
		},
		func(ctx context.Context) error {
			return bus.Consume(ctx, conns.JS, cfg.Bus, bus.ErasureConsumer("alerting-erasure"), pub, log, bus.Erasures(st.Erase))
		},
		sched.Run,
	}}
	sendBus := deliver.SendBus(cfg.Bus, cfg.DeliveryRate, cfg.DeliveryAttempts)
	for name := range cfg.Senders {
		a.run = append(a.run, func(ctx context.Context) error {
			return bus.Consume(ctx, conns.JS, sendBus, deliver.SendConsumer(name), pub, log, send.Handle)
		})
	}
	if a.srv, err = grpcx.New(cfg.GRPC, log); err != nil {
		conns.Close()
		return nil, fmt.Errorf("grpc server: %w", err)
	}
	alertingv1.RegisterAlertingServiceServer(a.srv.GRPC, api.New(st, conns.JS, cfg.SLA, ann))
	return a, nil
}

// Listen opens the gRPC address.
func (a *App) Listen() (net.Listener, error) { return a.srv.Listen() }

// Run serves and consumes until ctx ends; then the consumers finish the
// batches in hand, and NATS and Redis are closed.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := service.Serve(ctx, a.srv, ln, a.run...)
	a.conns.Close()
	return err
}
