// Package telemetry sets up what every feedloop process reports: traces
// (OpenTelemetry, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set,
// otherwise off), metrics (OpenTelemetry, served for Prometheus on /metrics)
// and structured logs (slog).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/feedloop/feedloop/pkg/config"
)

// Config says where telemetry goes.
type Config struct {
	// ServiceName names the process in traces and metrics, e.g. "intake".
	ServiceName string
	// Version is the build's version.
	Version string
	// MetricsAddr is where /metrics is served; empty disables it.
	MetricsAddr string
	// Pprof also serves Go's profiles at /debug/pprof/ on MetricsAddr: for
	// profiling a service under load; off by default, as it shows
	// internals.
	Pprof bool
	// OTLPEndpoint enables trace export when set (the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT; the exporter reads the other OTEL_* variables).
	OTLPEndpoint string
	// LogLevel and LogFormat ("json" or "text") shape the logs.
	LogLevel  slog.Level
	LogFormat string
}

// ConfigFromEnv reads FEEDLOOP_METRICS_ADDR (default defaultMetricsAddr;
// set to empty, no metrics server),
// FEEDLOOP_PPROF (false: profiles on the metrics address),
// FEEDLOOP_LOG_LEVEL (info), FEEDLOOP_LOG_FORMAT (json) and
// OTEL_EXPORTER_OTLP_ENDPOINT (unset: tracing off).
func ConfigFromEnv(env *config.Env, service, version, defaultMetricsAddr string) Config {
	cfg := Config{
		ServiceName:  service,
		Version:      version,
		MetricsAddr:  env.Switch("FEEDLOOP_METRICS_ADDR", defaultMetricsAddr),
		Pprof:        env.Bool("FEEDLOOP_PPROF", false),
		OTLPEndpoint: env.String("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		LogFormat:    env.String("FEEDLOOP_LOG_FORMAT", "json"),
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(env.String("FEEDLOOP_LOG_LEVEL", "info"))); err != nil {
		env.Fail("FEEDLOOP_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if cfg.LogFormat != "json" && cfg.LogFormat != "text" {
		env.Fail("FEEDLOOP_LOG_FORMAT", "must be json or text, got %q", cfg.LogFormat)
	}
	return cfg
}

// Telemetry holds the process's providers; Shutdown flushes them.
type Telemetry struct {
	Logger   *slog.Logger
	metrics  *http.Server
	shutdown []func(context.Context) error
}

// Setup installs the global OpenTelemetry providers and the W3C propagator,
// starts the /metrics server and builds the logger.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{Logger: NewLogger(os.Stderr, cfg)}
	res := resource.NewSchemaless(
		semconv.ServiceName(cfg.ServiceName),
		semconv.ServiceVersion(cfg.Version),
	)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	// Without an endpoint the global tracer stays the no-op one: spans cost
	// next to nothing, and incoming trace context still flows through.
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(tp)
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	otel.SetMeterProvider(mp)
	t.shutdown = append(t.shutdown, mp.Shutdown)

	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("metrics listener on %s (FEEDLOOP_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if cfg.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		t.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := t.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Logger.Error("metrics server stopped", "err", err)
			}
		}()
		t.shutdown = append(t.shutdown, t.metrics.Shutdown)
	}
	return t, nil
}

// Shutdown stops the metrics server and flushes traces and metrics.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	return errors.Join(errs...)
}

// NewLogger returns the process logger: JSON or text on w, with the trace and
// span ids of the context added to every record logged with one.
func NewLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if strings.EqualFold(cfg.LogFormat, "text") {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(traceHandler{h}).With("service", cfg.ServiceName)
}
