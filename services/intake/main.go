// Command intake is the feedloop intake service: it accepts feedback and
// activity over gRPC and stores every valid event on the FEEDBACK stream.
// Configuration comes from FEEDLOOP_* environment variables (see README).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/telemetry"
	"github.com/feedloop/feedloop/services/intake/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
}

func run() error {
	env := config.FromOS()
	cfg := app.ConfigFromEnv(env, version)
	if err := env.Err(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	tel, err := telemetry.Setup(ctx, cfg.Telemetry)
	if err != nil {
		return err
	}
	defer func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(flush)
	}()

	a, err := app.New(ctx, cfg, tel.Logger)
	if err != nil {
		return err
	}
	ln, err := a.Listen()
	if err != nil {
		return err
	}
	tel.Logger.Info("intake started", "version", version)
	return a.Run(ctx, ln)
}
