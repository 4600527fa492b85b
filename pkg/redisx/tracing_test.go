package redisx_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// Redis calls are children of the caller's recording span, named by their
// commands; calls outside a trace make no spans at all.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	r := testkit.StartRedis(t)
	c, err := redisx.New(context.Background(), redisx.Config{URL: r.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fill := func(p redis.Pipeliner) error {
		p.Set(context.Background(), "a", 1, 0)
		p.Get(context.Background(), "b")
		p.Set(context.Background(), "c", 1, 0)
		return nil
	}

	untraced := context.Background()
	c.Get(untraced, "missing")
	if _, err := c.Pipelined(untraced, fill); err != redis.Nil {
		t.Fatalf("pipeline: %v", err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("calls outside a trace made %d spans", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "handle")
	c.Get(ctx, "missing")
	c.Pipelined(ctx, fill)
	c.Do(ctx, "NOSUCHCOMMAND")
	parent.End()

	type span struct {
		name     string
		commands int64
		failed   bool
	}
	want := []span{{"redis get", 1, false}, {"redis.pipeline set get", 3, false}, {"redis nosuchcommand", 1, true}}
	ended := rec.Ended()
	if len(ended) != len(want)+1 {
		t.Fatalf("%d spans, want %d and the parent", len(ended), len(want))
	}
	for i, w := range want {
		s := ended[i]
		got := span{name: s.Name(), failed: s.Status().Code.String() == "Error"}
		for _, a := range s.Attributes() {
			if a.Key == attribute.Key("db.redis.num_cmd") {
				got.commands = a.Value.AsInt64()
			}
		}
		if got != w {
			t.Errorf("span %d = %+v, want %+v", i, got, w)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q is not the caller's child", s.Name())
		}
	}
}
