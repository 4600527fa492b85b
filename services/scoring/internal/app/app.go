// Package app assembles the scoring service from its configuration: Redis,
// NATS, the SCORED stream, the pipeline's and the erasure consumers and the
// gRPC API. Tests build it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/scoring/internal/api"
	"github.com/feedloop/feedloop/services/scoring/internal/pipeline"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
	"github.com/feedloop/feedloop/services/scoring/internal/sentiment"
	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// Config is everything scoring needs.
type Config struct {
	GRPC  grpcx.Config
	Bus   bus.Config
	Redis redisx.Config
	Score score.Config
	Store store.Config
}

// ConfigFromEnv reads the shared settings plus (defaults in brackets):
// FEEDLOOP_SCORING_HALF_LIFE [720h] of the decayed satisfaction;
// FEEDLOOP_SCORING_DEDUP_TTL [48h, at least 1h] how long applied event ids
// are remembered; FEEDLOOP_SCORING_HOUR_RETENTION [840h] and
// FEEDLOOP_SCORING_DAY_RETENTION [9600h] of the report buckets;
// FEEDLOOP_SCORING_SERVQUAL_WEIGHTS [0.32,0.22,0.19,0.16,0.11] (reliability,
// responsiveness, assurance, empathy, tangibles) and
// FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS
// [nps=0.30,csat=0.20,ces=0.10,servqual=0.20,sentiment=0.10,complaint=0.10].
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		GRPC:  grpcx.ConfigFromEnv(env, ":8082"),
		Bus:   bus.ConfigFromEnv(env),
		Redis: redisx.ConfigFromEnv(env),
		Score: score.DefaultConfig(),
		Store: store.Config{
			HalfLife:      env.Duration("FEEDLOOP_SCORING_HALF_LIFE", 30*24*time.Hour),
			DedupTTL:      env.Duration("FEEDLOOP_SCORING_DEDUP_TTL", 48*time.Hour),
			HourRetention: env.Duration("FEEDLOOP_SCORING_HOUR_RETENTION", 35*24*time.Hour),
			DayRetention:  env.Duration("FEEDLOOP_SCORING_DAY_RETENTION", 400*24*time.Hour),
		},
	}
	if c.Store.HalfLife < time.Hour {
		env.Fail("FEEDLOOP_SCORING_HALF_LIFE", "must be at least 1h, got %s", c.Store.HalfLife)
	}
	if c.Store.DedupTTL < time.Hour {
		env.Fail("FEEDLOOP_SCORING_DEDUP_TTL", "must be at least 1h, got %s", c.Store.DedupTTL)
	}
	if c.Store.HourRetention < 24*time.Hour || c.Store.DayRetention < c.Store.HourRetention {
		env.Fail("FEEDLOOP_SCORING_HOUR_RETENTION", "must be at least 24h and at most FEEDLOOP_SCORING_DAY_RETENTION")
	}
	if s := env.String("FEEDLOOP_SCORING_SERVQUAL_WEIGHTS", ""); s != "" {
		if err := parseServqualWeights(s, &c.Score.Servqual); err != nil {
			env.Fail("FEEDLOOP_SCORING_SERVQUAL_WEIGHTS", "%v", err)
		}
	}
	if s := env.String("FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", ""); s != "" {
		if err := parseExperienceWeights(s, &c.Score.Experience); err != nil {
			env.Fail("FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", "%v", err)
		}
	}
	return c
}

// parseServqualWeights reads five positive weights.
func parseServqualWeights(s string, into *[score.NumDimensions]float64) error {
	parts := strings.Split(s, ",")
	if len(parts) != int(score.NumDimensions) {
		return fmt.Errorf("want %d comma-separated weights (reliability, responsiveness, assurance, empathy, tangibles), got %q", score.NumDimensions, s)
	}
	var w [score.NumDimensions]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0) {
			return fmt.Errorf("weight %q is not a positive number", p)
		}
		w[i] = v
	}
	*into = w
	return nil
}

// parseExperienceWeights reads signal=weight pairs; signals not named keep
// their default.
func parseExperienceWeights(s string, into *score.Weights) error {
	w := *into
	fields := map[string]*float64{
		"nps": &w.NPS, "csat": &w.CSAT, "ces": &w.CES, "servqual": &w.Servqual, "sentiment": &w.Sentiment, "complaint": &w.Complaint,
	}
	for _, pair := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		field := fields[name]
		v, err := strconv.ParseFloat(value, 64)
		// Every weight stays positive: a signal an event has always counts,
		// so every event has an experience score.
		if !ok || field == nil || err != nil || !(v > 0) {
			return fmt.Errorf("%q: want signal=weight with signal one of nps, csat, ces, servqual, sentiment, complaint and a positive weight", pair)
		}
		*field = v
	}
	*into = w
	return nil
}

// App is a running scoring service.
type App struct {
	srv    *grpcx.Server
	cons   *bus.Consumer
	pipe   *pipeline.Pipeline
	erase  func(ctx context.Context, tenant, customer string) error
	conns  *service.Conns
	busCfg bus.Config
	pub    *bus.Publisher
	log    *slog.Logger
}

// New connects to Redis and NATS, makes sure the SCORED stream and the
// pipeline's consumer exist, and builds the gRPC server. The erasure
// consumer is created by Run: its stream belongs to segmentation, which may
// start later.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	conns, err := service.Connect(ctx, "scoring", cfg.Bus, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) { conns.Close(); return nil, err }
	if _, err := bus.EnsureStream(ctx, conns.JS, cfg.Bus, bus.ScoredStream); err != nil {
		return fail(err)
	}
	lexicon, err := sentiment.New()
	if err != nil {
		return fail(err)
	}
	st := store.New(conns.Redis, cfg.Store)
	pub := bus.NewPublisher(conns.JS, "feedloop/scoring")
	a := &App{
		conns: conns, busCfg: cfg.Bus, pub: pub, log: log,
		pipe:  pipeline.New(score.New(cfg.Score, lexicon), st, pub),
		erase: st.Erase,
	}
	if a.cons, err = bus.NewConsumer(ctx, conns.JS, cfg.Bus, pipeline.Consumer, pub, log); err != nil {
		return fail(err)
	}
	if a.srv, err = grpcx.New(cfg.GRPC, log); err != nil {
		return fail(fmt.Errorf("grpc server: %w", err))
	}
	scoringv1.RegisterScoringServiceServer(a.srv.GRPC, api.New(st, cfg.Score.Servqual))
	return a, nil
}

// Listen opens the gRPC address.
func (a *App) Listen() (net.Listener, error) { return a.srv.Listen() }

// Run serves the API and runs the pipeline and the erasure consumer until
// ctx ends; then the server finishes in-flight calls and the consumers the
// batch in hand (acking it), and NATS and Redis are closed.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := service.Serve(ctx, a.srv, ln,
		func(ctx context.Context) error { return a.cons.Run(ctx, a.pipe.Handle) },
		a.runErasure)
	a.conns.Close()
	return err
}

// runErasure runs the erasure consumer; it waits for segmentation to
// create the CUSTOMERS stream while scoring serves.
func (a *App) runErasure(ctx context.Context) error {
	return bus.Consume(ctx, a.conns.JS, a.busCfg, bus.ErasureConsumer("scoring-erasure"), a.pub, a.log, bus.Erasures(a.erase))
}
