package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
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

func TestPprofOnlyWhenAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "test", MetricsAddr: addr, Pprof: on, LogFormat: "json"})
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/metrics": 200, "/debug/pprof/": map[bool]int{false: 404, true: 200}[on]} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("pprof %v: GET %s = %d, want %d", on, path, resp.StatusCode, want)
			}
		}
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}
