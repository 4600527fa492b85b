// Package service runs a feedloop service process: it sets up telemetry,
// turns SIGTERM and Ctrl-C into a context cancellation, and exits non-zero
// with a clear message when the service fails.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
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
// flushed after run returns. Run as `<service> probe`, the binary instead
// checks the health of the service already running with the same
// environment and exits 0 when it is SERVING, 1 otherwise: the health check
// of an image without a shell.
func Main(name, version, defaultMetricsAddr string, run Run) {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		err = probe(ctx, config.FromOS(), defaultGRPCAddrs[name])
		cancel()
	} else {
		err = main(name, version, defaultMetricsAddr, run)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func main(name, version, defaultMetricsAddr string, run Run) error {
	env := config.FromOS()
	cfg := telemetry.ConfigFromEnv(env, name, version, defaultMetricsAddr)
	n := procs(env)
	if err := env.Err(); err != nil {
		return err
	}
	runtime.GOMAXPROCS(n)
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
	tel.Logger.Info("starting", "version", version, "gomaxprocs", n)
	if err := run(ctx, env, tel.Logger); err != nil {
		tel.Logger.Error("stopped with an error", "err", err)
		return err
	}
	tel.Logger.Info("stopped")
	return nil
}

// procs is how many OS threads run the service's goroutines at once
// (GOMAXPROCS): the GOMAXPROCS variable when set, else 1. A service is an
// I/O-bound pipeline that scales out by replicas, and it shares the machine's
// cores with NATS, Redis and the other services; there a second thread buys
// it no parallelism, only wake-ups of threads on other cores. Measured on two
// cores at 2,000 events/s, one thread per process spends a fifth less CPU an
// event (docs/performance.md).
func procs(env *config.Env) int {
	n := env.Int("GOMAXPROCS", 1)
	if n < 1 {
		env.Fail("GOMAXPROCS", "must be at least 1, got %d", n)
	}
	return n
}

// Serve runs a service's gRPC server and its consumer loops until ctx ends
// or one of them fails. Then it stops them all together: the server turns
// NOT_SERVING and finishes in-flight calls while the consumers drain (each
// loop must return when its context ends, after finishing what it holds).
// It returns the first failure, so a consumer that stopped unexpectedly
// exits the process instead of leaving it idle.
func Serve(ctx context.Context, srv *grpcx.Server, ln net.Listener, consumers ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(consumers)+1)
	go func() { errs <- srv.Run(ctx, ln) }()
	for _, run := range consumers {
		go func() { errs <- run(ctx) }()
	}
	var first error
	for range len(consumers) + 1 {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// App is a service assembled from its configuration (each service's
// internal/app package).
type App interface {
	// Listen opens the gRPC address.
	Listen() (net.Listener, error)
	// Run serves on ln until ctx ends, then shuts down in order.
	Run(ctx context.Context, ln net.Listener) error
}

// Assemble is the Run of a service whose configuration comes from
// configFromEnv and whose App comes from newApp: read and check the
// configuration, build the App, listen, run.
func Assemble[C any, A App](configFromEnv func(*config.Env) C, newApp func(context.Context, C, *slog.Logger) (A, error)) Run {
	return func(ctx context.Context, env *config.Env, log *slog.Logger) error {
		cfg := configFromEnv(env)
		if err := env.Err(); err != nil {
			return err
		}
		a, err := newApp(ctx, cfg, log)
		if err != nil {
			return err
		}
		ln, err := a.Listen()
		if err != nil {
			return err
		}
		return a.Run(ctx, ln)
	}
}
