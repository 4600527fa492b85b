package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/feedloop/feedloop/pkg/telemetry"
)

func spanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

func TestHeaderCarrierRoundTrip(t *testing.T) {
	sc := spanContext(t)
	h := nats.Header{}
	prop := propagation.TraceContext{}
	prop.Inject(trace.ContextWithSpanContext(context.Background(), sc), telemetry.HeaderCarrier(h))
	if got := h.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent header = %q (headers %v)", got, h)
	}
	out := trace.SpanContextFromContext(prop.Extract(context.Background(), telemetry.HeaderCarrier(h)))
	if out.TraceID() != sc.TraceID() || out.SpanID() != sc.SpanID() {
		t.Errorf("extracted %v, want %v", out, sc)
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, telemetry.Config{ServiceName: "intake", LogFormat: "json"})
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), spanContext(t)), "hello", "tenant", "acme")
	log.Info("no trace")
	var first, second map[string]any
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || first["service"] != "intake" || first["tenant"] != "acme" {
		t.Errorf("record = %v", first)
	}
	if _, ok := second["trace_id"]; ok {
		t.Errorf("record without span has trace_id: %v", second)
	}
}
