package bus

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/feedloop/feedloop/pkg/telemetry"
)

// Header names set on every message. The CloudEvents attributes follow the
// NATS protocol binding, binary mode (ce- prefix, payload as is).
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderID          = "ce-id"
	HeaderTime        = "ce-time"
	HeaderContentType = "content-type"
	contentType       = "application/protobuf"
)

var tracer = otel.Tracer("github.com/feedloop/feedloop/pkg/bus")

// Outgoing is a message to publish.
type Outgoing struct {
	Subject string
	// ID de-duplicates the message in the stream (Nats-Msg-Id): by
	// convention "<tenant>/<event id>".
	ID  string
	Msg proto.Message
	// Ctx, when set, is the message's own trace context: a batch publishes
	// each result under the span of the message it came from.
	Ctx context.Context
}

// Publisher publishes protobuf messages and waits for the stream to store
// them.
type Publisher struct {
	js     jetstream.JetStream
	source []string // the ce-source header value
	now    func() time.Time
}

// NewPublisher returns a publisher whose messages name source (e.g.
// "feedloop/intake") as their CloudEvents source.
func NewPublisher(js jetstream.JetStream, source string) *Publisher {
	return &Publisher{js: js, source: []string{source}, now: time.Now}
}

// Publish stores one message and returns the stream's acknowledgement.
// PubAck.Duplicate is true when a message with the same ID was stored within
// the duplicate window.
func (p *Publisher) Publish(ctx context.Context, out Outgoing) (*jetstream.PubAck, error) {
	ctx, span := p.startSpan(ctx, out)
	defer span.End()
	msg, err := p.encode(ctx, out, p.timeHeader())
	if err != nil {
		return nil, endSpan(span, err)
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, endSpan(span, fmt.Errorf("publish %s: %w", out.Subject, err))
	}
	return ack, nil
}

// PublishAll stores messages concurrently (asynchronous publish, then one
// wait for all acknowledgements) and returns one acknowledgement or error per
// message, in order. It is how a batch avoids a round trip per message.
//
// It waits for every acknowledgement even when ctx ends (each wait is
// bounded by the publish timeout): a message sent may be stored, and the
// caller must learn which ones were.
func (p *Publisher) PublishAll(ctx context.Context, outs []Outgoing) ([]*jetstream.PubAck, []error) {
	acks := make([]*jetstream.PubAck, len(outs))
	errs := make([]error, len(outs))
	futures := make([]jetstream.PubAckFuture, len(outs))
	spans := make([]trace.Span, len(outs))
	published := p.timeHeader() // one publish, one time
	for i, out := range outs {
		base := ctx
		if out.Ctx != nil {
			base = out.Ctx
		}
		var mctx context.Context
		mctx, spans[i] = p.startSpan(base, out)
		msg, err := p.encode(mctx, out, published)
		if err == nil {
			futures[i], err = p.js.PublishMsgAsync(msg)
		}
		if err != nil {
			errs[i] = fmt.Errorf("publish %s: %w", out.Subject, err)
		}
	}
	for i, f := range futures {
		if f != nil {
			select {
			case acks[i] = <-f.Ok():
			case err := <-f.Err():
				errs[i] = fmt.Errorf("publish %s: %w", outs[i].Subject, err)
			}
		}
		endSpan(spans[i], errs[i])
		spans[i].End()
	}
	return acks, errs
}

func (p *Publisher) startSpan(ctx context.Context, out Outgoing) (context.Context, trace.Span) {
	return tracer.Start(ctx, "publish "+out.Subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", out.Subject),
			attribute.String("messaging.message.id", out.ID),
		))
}

func endSpan(span trace.Span, err error) error {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// Header values that never change are shared between messages (NATS only
// reads them), which saves allocations on the hot path.
var (
	specVersion      = []string{"1.0"}
	protobufEncoding = []string{contentType}
)

// timeHeader is the ce-time header value for messages published now.
func (p *Publisher) timeHeader() []string {
	return []string{p.now().UTC().Format(time.RFC3339Nano)}
}

// encode builds the NATS message: protobuf payload, the JetStream message id,
// the caller's trace context and the CloudEvents attributes.
func (p *Publisher) encode(ctx context.Context, out Outgoing, published []string) (*nats.Msg, error) {
	data, err := proto.Marshal(out.Msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", out.Subject, err)
	}
	id := []string{out.ID}
	h := make(nats.Header, 8) // 8 fits a small map: one allocation
	h[jetstream.MsgIDHeader] = id
	h[HeaderSpecVersion] = specVersion
	h[HeaderType] = []string{string(out.Msg.ProtoReflect().Descriptor().FullName())}
	h[HeaderSource] = p.source
	h[HeaderID] = id
	h[HeaderTime] = published
	h[HeaderContentType] = protobufEncoding
	otel.GetTextMapPropagator().Inject(ctx, telemetry.HeaderCarrier(h))
	return &nats.Msg{Subject: out.Subject, Data: data, Header: h}, nil
}

// Settle publishes every message's outgoing messages at once (outs[i] are
// message i's) and returns each message's outcome: its own error in errs,
// else the first failure among its publishes, else nil.
func (p *Publisher) Settle(ctx context.Context, outs [][]Outgoing, errs []error) []error {
	var all []Outgoing
	var owner []int
	for i, o := range outs {
		all = append(all, o...)
		for range o {
			owner = append(owner, i)
		}
	}
	_, perrs := p.PublishAll(ctx, all)
	out := slices.Clone(errs)
	for j, err := range perrs {
		if err != nil && out[owner[j]] == nil {
			out[owner[j]] = err
		}
	}
	return out
}
