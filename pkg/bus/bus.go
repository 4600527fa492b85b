// Package bus is how feedloop services talk over NATS JetStream: the streams
// and their subjects, a publisher that waits for the stream's acknowledgement,
// and a consume loop that hands a service micro-batches and acks, retries or
// dead-letters each message by the service's verdict.
package bus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedloop/feedloop/pkg/config"
)

// Config holds the connection, stream and consumer settings shared by all
// services.
type Config struct {
	URL string
	// CredsFile is a NATS credentials file (JWT + NKey), when the server
	// requires one.
	CredsFile string
	// Replicas of each stream: 1 on a laptop, 3 in production.
	Replicas int
	// Retention is how long streams keep messages: long enough to rebuild all
	// state by replay.
	Retention time.Duration
	// DuplicateWindow is how long JetStream remembers message ids.
	DuplicateWindow time.Duration
	// PublishTimeout bounds the wait for a publish acknowledgement.
	PublishTimeout time.Duration
	// BatchSize is the most messages a consumer hands the service at once.
	BatchSize int
	// Workers is how many batches a consumer processes at once, so one
	// batch's Redis round trip overlaps another's publishes.
	Workers int
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long the server waits for an ack before redelivering.
	AckWait time.Duration
	// RetryBase and RetryMax bound the exponential back-off between tries.
	RetryBase, RetryMax time.Duration
}

// ConfigFromEnv reads the FEEDLOOP_NATS_* , FEEDLOOP_STREAM_* and
// FEEDLOOP_CONSUMER_* variables; see the README for defaults.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		URL:             env.String("FEEDLOOP_NATS_URL", nats.DefaultURL),
		CredsFile:       env.String("FEEDLOOP_NATS_CREDS", ""),
		Replicas:        env.Int("FEEDLOOP_STREAM_REPLICAS", 1),
		Retention:       env.Duration("FEEDLOOP_STREAM_RETENTION", 30*24*time.Hour),
		DuplicateWindow: env.Duration("FEEDLOOP_STREAM_DUPLICATE_WINDOW", 2*time.Minute),
		PublishTimeout:  env.Duration("FEEDLOOP_NATS_PUBLISH_TIMEOUT", 5*time.Second),
		BatchSize:       env.Int("FEEDLOOP_CONSUMER_BATCH", 100),
		Workers:         env.Int("FEEDLOOP_CONSUMER_WORKERS", 4),
		MaxDeliver:      env.Int("FEEDLOOP_CONSUMER_MAX_DELIVER", 10),
		AckWait:         env.Duration("FEEDLOOP_CONSUMER_ACK_WAIT", 30*time.Second),
		RetryBase:       env.Duration("FEEDLOOP_CONSUMER_RETRY_BASE", time.Second),
		RetryMax:        env.Duration("FEEDLOOP_CONSUMER_RETRY_MAX", time.Minute),
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		env.Fail("FEEDLOOP_STREAM_REPLICAS", "must be 1 to 5, got %d", c.Replicas)
	}
	if c.DuplicateWindow < 2*time.Minute {
		env.Fail("FEEDLOOP_STREAM_DUPLICATE_WINDOW", "must be at least 2m, got %s", c.DuplicateWindow)
	}
	if c.Retention < c.DuplicateWindow {
		env.Fail("FEEDLOOP_STREAM_RETENTION", "must be at least the duplicate window, got %s", c.Retention)
	}
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		env.Fail("FEEDLOOP_CONSUMER_BATCH", "must be 1 to 1000, got %d", c.BatchSize)
	}
	if c.Workers < 1 || c.Workers > 64 {
		env.Fail("FEEDLOOP_CONSUMER_WORKERS", "must be 1 to 64, got %d", c.Workers)
	}
	if c.MaxDeliver < 1 {
		env.Fail("FEEDLOOP_CONSUMER_MAX_DELIVER", "must be at least 1, got %d", c.MaxDeliver)
	}
	if c.AckWait < time.Second {
		env.Fail("FEEDLOOP_CONSUMER_ACK_WAIT", "must be at least 1s, got %s", c.AckWait)
	}
	return c
}

// DefaultConfig is ConfigFromEnv with no variables set.
func DefaultConfig() Config { return ConfigFromEnv(config.FromMap(nil)) }

// Connect opens a NATS connection that reconnects forever and a JetStream
// handle on it. While disconnected, publishes fail at once instead of being
// buffered: a caller must never be told "failed" about a message that is
// later stored anyway.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: the service closed the connection itself
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats at %s (FEEDLOOP_NATS_URL): %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
		jetstream.WithDefaultTimeout(cfg.PublishTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Stream names a stream and the subjects it holds.
type Stream struct {
	Name     string
	Subjects []string
}

// The streams, in pipeline order. Each is owned (created and updated) by the
// service that publishes to it; DEADLETTER by every consumer.
var (
	FeedbackStream   = Stream{Name: "FEEDBACK", Subjects: []string{"feedback.received.>", "activity.received.>"}}
	ScoredStream     = Stream{Name: "SCORED", Subjects: []string{"feedback.scored.>"}}
	CustomersStream  = Stream{Name: "CUSTOMERS", Subjects: []string{"customer.>"}}
	RecoveryStream   = Stream{Name: "RECOVERY", Subjects: []string{"recovery.>"}}
	DeliveryStream   = Stream{Name: "DELIVERY", Subjects: []string{"delivery.>"}}
	DeadLetterStream = Stream{Name: "DEADLETTER", Subjects: []string{"deadletter.>"}}
)

// Subject prefixes; the tenant id is the last token.
const (
	FeedbackReceived  = "feedback.received"
	ActivityReceived  = "activity.received"
	FeedbackScored    = "feedback.scored"
	CustomerEvaluated = "customer.evaluated"
	TierChanged       = "customer.tier_changed"
	CustomerErased    = "customer.erased"
)

// Subject returns prefix.tenant.
func Subject(prefix, tenant string) string { return prefix + "." + tenant }

// EnsureStream creates the stream or updates it to the configuration:
// file storage, limits-based retention, the configured replicas, age limit
// and duplicate window. Safe to call from every replica at every start.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg Config, s Stream) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       s.Name,
		Subjects:   s.Subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Replicas:   cfg.Replicas,
		MaxAge:     cfg.Retention,
		Duplicates: cfg.DuplicateWindow,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", s.Name, err)
	}
	return st, nil
}

// CheckTenant rejects a message (what names its kind) whose tenant does not
// match the subject it came on (prefix.tenant), or could break out of the
// Redis hash tag {tenant}: such a message can never be processed, so the
// error is Permanent.
func CheckTenant(what, prefix, subject, tenant string) error {
	if subject != Subject(prefix, tenant) {
		return Permanent(fmt.Errorf("invalid %s: tenant %q published on %s", what, tenant, subject))
	}
	if strings.ContainsAny(tenant, "{}") {
		return Permanent(fmt.Errorf("invalid %s: tenant id contains a brace", what))
	}
	return nil
}
