package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"

	"github.com/feedloop/feedloop/pkg/telemetry"
)

// Message is one delivered message, as a handler sees it.
type Message struct {
	// Ctx carries the trace context the publisher sent, under a consumer span.
	Ctx     context.Context
	Subject string
	Data    []byte
	Header  nats.Header
	// Deliveries counts this delivery: 1 the first time.
	Deliveries uint64

	raw  jetstream.Msg
	meta *jetstream.MsgMetadata
	span trace.Span
}

// Handler processes a micro-batch and returns one error per message, in
// order: nil to ack it, a Permanent error to dead-letter it at once, any other
// error to retry it later with back-off. A handler typically decodes every
// message, runs its domain, writes all state in one Redis pipeline, publishes
// all results with PublishAll, and reports each message's outcome.
type Handler func(ctx context.Context, msgs []*Message) []error

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a message that cannot be
// decoded, or is invalid): the message goes to the dead-letter stream.
func Permanent(err error) error { return permanentError{err} }

// retryError asks for a retry after a given delay.
type retryError struct {
	err   error
	after time.Duration
}

func (e retryError) Error() string { return e.err.Error() }
func (e retryError) Unwrap() error { return e.err }

// RetryAfter marks err as worth retrying after d, instead of the consumer's
// own back-off: for a handler that knows better (a receiver's Retry-After,
// a back-off with jitter of its own). Retries stay bounded by MaxDeliver.
func RetryAfter(err error, d time.Duration) error { return retryError{err, d} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

// Decode reads m's payload into into, which must be the message type its
// ce-type header names. A message that does not decode can never be
// processed: the error is Permanent, so it goes to the dead-letter stream.
func Decode(m *Message, into proto.Message) error {
	want := string(into.ProtoReflect().Descriptor().FullName())
	if got := m.Header.Get(HeaderType); got != want {
		return Permanent(fmt.Errorf("decode %s: ce-type is %q, want %q", m.Subject, got, want))
	}
	if err := proto.Unmarshal(m.Data, into); err != nil {
		return Permanent(fmt.Errorf("decode %s as %s: %w", m.Subject, want, err))
	}
	return nil
}

// ConsumerSpec names a durable consumer on a stream.
type ConsumerSpec struct {
	Stream  Stream
	Durable string
	// FilterSubjects limits the consumer to some of the stream's subjects;
	// empty means all.
	FilterSubjects []string
}

// Consumer runs a Handler over a durable pull consumer.
type Consumer struct {
	cfg  Config
	spec ConsumerSpec
	cons jetstream.Consumer
	pub  *Publisher
	log  *slog.Logger

	outcomes metric.Int64Counter
}

// NewConsumer creates (or updates) the durable consumer and the DEADLETTER
// stream, and returns a Consumer ready to Run. The consumed stream must exist
// (its owner creates it); this waits for it until ctx ends.
func NewConsumer(ctx context.Context, js jetstream.JetStream, cfg Config, spec ConsumerSpec, pub *Publisher, log *slog.Logger) (*Consumer, error) {
	if _, err := EnsureStream(ctx, js, cfg, DeadLetterStream); err != nil {
		return nil, err
	}
	// Redelivery is bounded here, not by the server's MaxDeliver: when the
	// server gives up on a message it drops it silently, and a message that
	// timed out on its last try would be lost. Run dead-letters it instead.
	ccfg := jetstream.ConsumerConfig{
		Durable:        spec.Durable,
		FilterSubjects: spec.FilterSubjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     -1,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// A replica holds up to three rounds of its workers' batches (see
		// Run); leave room for several replicas.
		MaxAckPending: max(1000, 16*cfg.BatchSize*max(1, cfg.Workers)),
	}
	var cons jetstream.Consumer
	for {
		var err error
		cons, err = js.CreateOrUpdateConsumer(ctx, spec.Stream.Name, ccfg)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("consumer %s on %s: %w", spec.Durable, spec.Stream.Name, err)
		}
		log.Info("waiting for stream to be created by its owner", "stream", spec.Stream.Name)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("consumer %s: stream %s not found: %w", spec.Durable, spec.Stream.Name, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	outcomes, err := otel.Meter("github.com/feedloop/feedloop/pkg/bus").Int64Counter("feedloop.bus.messages",
		metric.WithDescription("Messages consumed, by outcome: ack, retry, deadletter."))
	if err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, spec: spec, cons: cons, pub: pub, log: log.With("consumer", spec.Durable), outcomes: outcomes}, nil
}

// Run hands micro-batches to h until ctx ends, then drains: it stops pulling,
// finishes the messages already buffered, and returns nil. It returns an error
// when consuming stops for another reason (the consumer was deleted, the
// connection closed for good), so the service does not idle unnoticed.
//
// Workers batches are processed at once, in any order: every handler's
// state updates are order-insensitive. A message waits behind at most three
// rounds of batches (the client's prefetch, the ready queue, the batches in
// hand), so AckWait must exceed three batches' processing time; with the
// defaults (100 messages, 30s) that leaves 100 ms per message.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	workers := max(1, c.cfg.Workers)
	inFlight := c.cfg.BatchSize * workers
	ready := make(chan jetstream.Msg, inFlight)
	cc, err := c.cons.Consume(func(m jetstream.Msg) { ready <- m },
		jetstream.PullMaxMessages(inFlight),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			c.log.Warn("consume", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.spec.Durable, err)
	}
	// In-flight work finishes even when ctx ends: that is the drain.
	work := context.WithoutCancel(ctx)
	closed := cc.Closed()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			batch := make([]jetstream.Msg, 0, c.cfg.BatchSize)
			for {
				select {
				case m := <-ready:
					c.process(work, collect(ready, append(batch[:0], m), c.cfg.BatchSize), h)
				case <-closed:
					// No more callbacks: finish what is buffered.
					for {
						batch = collect(ready, batch[:0], c.cfg.BatchSize)
						if len(batch) == 0 {
							return
						}
						c.process(work, batch, h)
					}
				}
			}
		})
	}
	select {
	case <-ctx.Done():
		cc.Drain()
	case <-closed:
	}
	wg.Wait()
	if ctx.Err() == nil {
		return fmt.Errorf("consumer %s stopped unexpectedly", c.spec.Durable)
	}
	return nil
}

// collect adds what is ready, without waiting, up to max messages.
func collect(ready <-chan jetstream.Msg, batch []jetstream.Msg, max int) []jetstream.Msg {
	for len(batch) < max {
		select {
		case m := <-ready:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

func (c *Consumer) process(ctx context.Context, raw []jetstream.Msg, h Handler) {
	msgs := make([]*Message, 0, len(raw))
	for _, r := range raw {
		m := &Message{Subject: r.Subject(), Data: r.Data(), Header: r.Headers(), raw: r}
		if meta, err := r.Metadata(); err == nil {
			m.meta, m.Deliveries = meta, meta.NumDelivered
		}
		mctx := otel.GetTextMapPropagator().Extract(ctx, telemetry.HeaderCarrier(m.Header))
		m.Ctx, m.span = tracer.Start(mctx, "process "+m.Subject,
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "nats"),
				attribute.String("messaging.consumer.group.name", c.spec.Durable),
				attribute.Int64("messaging.nats.deliveries", int64(m.Deliveries)),
			))
		msgs = append(msgs, m)
	}
	errs := c.handle(ctx, msgs, h)
	for i, m := range msgs {
		c.settle(ctx, m, errs[i])
		endSpan(m.span, errs[i])
		m.span.End()
	}
}

// handle runs h, isolating a panic: a batch that panics is run again one
// message at a time, so only the message that panics is dead-lettered.
func (c *Consumer) handle(ctx context.Context, msgs []*Message, h Handler) []error {
	errs, panicked := safeCall(ctx, msgs, h)
	if !panicked {
		return errs
	}
	errs = make([]error, len(msgs))
	for i, m := range msgs {
		one, panicked := safeCall(ctx, []*Message{m}, h)
		if panicked {
			errs[i] = Permanent(one[0])
			continue
		}
		errs[i] = one[0]
	}
	return errs
}

func safeCall(ctx context.Context, msgs []*Message, h Handler) (errs []error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("handler panic: %v", r)
			errs = make([]error, len(msgs))
			for i := range errs {
				errs[i] = err
			}
			panicked = true
		}
	}()
	errs = h(ctx, msgs)
	if len(errs) != len(msgs) {
		panic(fmt.Sprintf("handler returned %d results for %d messages", len(errs), len(msgs)))
	}
	return errs, false
}

// settle acks, retries or dead-letters one message by its outcome.
func (c *Consumer) settle(ctx context.Context, m *Message, err error) {
	outcome := "ack"
	switch {
	case err == nil:
		if aerr := m.raw.Ack(); aerr != nil {
			c.log.Warn("ack", "subject", m.Subject, "err", aerr)
		}
	case !IsPermanent(err) && m.Deliveries < uint64(c.cfg.MaxDeliver):
		outcome = "retry"
		delay := c.backoff(m.Deliveries)
		if r := (retryError{}); errors.As(err, &r) {
			delay = r.after
		}
		c.log.Warn("message will be retried", "subject", m.Subject, "deliveries", m.Deliveries, "after", delay, "err", err)
		_ = m.raw.NakWithDelay(delay)
	default:
		outcome = "deadletter"
		reason := err.Error()
		if !IsPermanent(err) {
			reason = fmt.Sprintf("gave up after %d deliveries: %s", m.Deliveries, reason)
		}
		if dlErr := c.deadLetter(ctx, m, reason); dlErr != nil {
			// Not terminated: it stays in the stream and is tried again.
			outcome = "retry"
			c.log.Error("dead-letter failed; message will be retried", "subject", m.Subject, "err", dlErr)
			_ = m.raw.NakWithDelay(c.backoff(m.Deliveries))
			break
		}
		c.log.Error("message dead-lettered", "subject", m.Subject, "reason", reason)
		_ = m.raw.TermWithReason(truncate(reason, 256))
	}
	c.outcomes.Add(ctx, 1, metric.WithAttributes(
		attribute.String("consumer", c.spec.Durable), attribute.String("outcome", outcome)))
}

// backoff is RetryBase doubled per previous delivery, at most RetryMax.
func (c *Consumer) backoff(deliveries uint64) time.Duration {
	d := c.cfg.RetryBase
	for i := uint64(1); i < deliveries && d < c.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.cfg.RetryMax)
}

// deadLetter copies the message, with the reason, to the DEADLETTER stream.
// Its id is the consumer and the original's stream position, so a repeat
// stores one copy and two consumers failing on one message store two.
func (c *Consumer) deadLetter(ctx context.Context, m *Message, reason string) error {
	dl := &eventsv1.DeadLetter{
		Stream:   c.spec.Stream.Name,
		Consumer: c.spec.Durable,
		Subject:  m.Subject,
		Reason:   reason,
		Data:     m.Data,
		Headers:  map[string]string{},
		FailedAt: timestamppb.Now(),
	}
	if m.meta == nil {
		return errors.New("message has no JetStream metadata")
	}
	dl.StreamSequence, dl.Deliveries = m.meta.Sequence.Stream, m.meta.NumDelivered
	for k, v := range m.Header {
		if len(v) > 0 {
			dl.Headers[k] = v[0]
		}
	}
	_, err := c.pub.Publish(m.Ctx, Outgoing{
		Subject: "deadletter." + c.spec.Stream.Name + "." + c.spec.Durable,
		ID:      fmt.Sprintf("%s/%s/%d", c.spec.Stream.Name, c.spec.Durable, dl.StreamSequence),
		Msg:     dl,
	})
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Consume creates the durable consumer, waiting for its stream as
// NewConsumer does, and runs h on it until ctx ends. A service whose
// streams' owners may start after it consumes this way, so that it serves
// meanwhile; ending ctx while it waits is a clean stop.
func Consume(ctx context.Context, js jetstream.JetStream, cfg Config, spec ConsumerSpec, pub *Publisher, log *slog.Logger, h Handler) error {
	c, err := NewConsumer(ctx, js, cfg, spec, pub, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	return c.Run(ctx, h)
}
