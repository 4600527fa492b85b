// Package service runs a feedloop service process: it sets up telemetry,
// turns SIGTERM and Ctrl-C into a context cancellation, and exits non-zero
// with a clear message when the service fails.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/telemetry"
)

// Run is a service's body. It reads its settings from env, must return
// env.Err() before starting anything when they are invalid, and runs until
// ctx ends, then shuts down in order and returns.
type Run func(ctx context.Context, env *config.Env, log *slog.Logger) error

// Main runs the service named name and exits the process. Telemetry is
// flushed after run returns.
func Main(name, version, defaultMetricsAddr string, run Run) {
	if err := main(name, version, defaultMetricsAddr, run); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func main(name, version, defaultMetricsAddr string, run Run) error {
	env := config.FromOS()
	cfg := telemetry.ConfigFromEnv(env, name, version, defaultMetricsAddr)
	if err := env.Err(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	tel, err := telemetry.Setup(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flush); err != nil {
			tel.Logger.Warn("telemetry shutdown", "err", err)
		}
	}()
	tel.Logger.Info("starting", "version", version)
	if err := run(ctx, env, tel.Logger); err != nil {
		tel.Logger.Error("stopped with an error", "err", err)
		return err
	}
	tel.Logger.Info("stopped")
	return nil
}

// HealthOnly runs a service that has no API of its own yet: a gRPC server
// with health and reflection, stopped cleanly on SIGTERM. Services that are
// still placeholders call it from main.
func HealthOnly(name, version, defaultMetricsAddr, defaultGRPCAddr string) {
	Main(name, version, defaultMetricsAddr, func(ctx context.Context, env *config.Env, log *slog.Logger) error {
		cfg := grpcx.ConfigFromEnv(env, defaultGRPCAddr)
		if err := env.Err(); err != nil {
			return err
		}
		srv, err := grpcx.New(cfg, log)
		if err != nil {
			return err
		}
		ln, err := srv.Listen()
		if err != nil {
			return err
		}
		return srv.Run(ctx, ln)
	})
}
