// Command loadgen sends synthetic but realistic customer traffic to
// feedloop's intake and reports what happened: events accepted, duplicate,
// rejected and failed, accepted events per second, the intake latency
// histogram and, with --e2e, the latency from an event's submission to the
// case change it caused appearing on alerting's WatchAlerts.
//
// It runs open-loop at --rate events/s (sends scheduled by the clock,
// latency counted from when each send was due) or closed-loop as fast as
// --concurrency callers go (--rate 0). See docs/loadgen.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/feedloop/feedloop/cmd/internal/client"
	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal the run stops sending and reports; a second
	// one kills the process as usual.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// defaultDuration bounds a run given neither --duration nor --count.
const defaultDuration = 30 * time.Second

// Exit codes.
const (
	exitOK         = 0
	exitFailed     = 1 // could not run, or no event was accepted
	exitUsageError = 2
)

// run is the whole command: parse, dial, load, report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadgen [flags]

Sends synthetic customer feedback and purchases to feedloop's intake and
reports accepted events/s and latencies. See docs/loadgen.md.

  loadgen --rate 50 --duration 1m                    a gentle demo
  loadgen --rate 0 --concurrency 32 --count 100000   as fast as it goes
  loadgen --e2e --rate 1000 --duration 30s           end-to-end latency to WatchAlerts

Flags:
`)
		fs.PrintDefaults()
	}
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var (
		o                                options
		intakeAddr, alertingAddr, apiKey string
		useTLS                           bool
		output                           string
	)
	fs.StringVar(&intakeAddr, "intake", envOr("FEEDLOOP_INTAKE_ADDR", client.DefaultIntakeAddr), "intake address (env FEEDLOOP_INTAKE_ADDR)")
	fs.StringVar(&alertingAddr, "alerting", envOr("FEEDLOOP_ALERTING_ADDR", client.DefaultAlertingAddr), "alerting address, for --e2e (env FEEDLOOP_ALERTING_ADDR)")
	fs.StringVar(&apiKey, "api-key", envOr("FEEDLOOP_API_KEY", client.DevAPIKey), "API key (env FEEDLOOP_API_KEY)")
	fs.BoolVar(&useTLS, "tls", getenv("FEEDLOOP_TLS") == "1" || getenv("FEEDLOOP_TLS") == "true", "use TLS, verified against the system roots (env FEEDLOOP_TLS=1)")
	fs.Float64Var(&o.rate, "rate", 100, "events per second, sent on schedule (open loop); 0 sends as fast as --concurrency callers go (closed loop)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "closed loop: callers; open loop: most calls in flight")
	fs.DurationVar(&o.duration, "duration", 0, "stop sending after this long (default 30s unless --count is given; 0: no limit)")
	fs.IntVar(&o.count, "count", 0, "stop after this many events (0: no limit); with --duration, whichever comes first")
	fs.IntVar(&o.batch, "batch", 1, "events per batch call (1-500): feedback through SubmitFeedbackBatch, purchases through RecordActivityBatch; 1 sends one a call")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "longest wait for one call")
	fs.Uint64Var(&o.traffic.Seed, "seed", 0, "seed of the event sequence; 0 picks one from the clock (the report shows it)")
	fs.IntVar(&o.traffic.Customers, "customers", 10000, "customers in the population")
	fs.Float64Var(&o.traffic.PurchaseShare, "purchases", 0.3, "share of new events that are purchases")
	fs.Float64Var(&o.traffic.DuplicateRate, "duplicates", 0.01, "share of events that repeat an earlier one (same event id)")
	fs.Float64Var(&o.traffic.InvalidRate, "invalid", 0.01, "share of events that break an intake rule")
	fs.BoolVar(&o.e2e, "e2e", false, "also watch alerting's WatchAlerts and measure submission → case change latency")
	fs.DurationVar(&o.e2eWait, "e2e-wait", 10*time.Second, "with --e2e, longest wait for case changes after the last send")
	fs.DurationVar(&o.every, "every", 5*time.Second, "progress line on stderr this often (0: none)")
	fs.StringVar(&output, "o", "text", "report format: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsageError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return exitUsageError
	}
	if output != "text" && output != "json" {
		fmt.Fprintf(stderr, "loadgen: -o %q, want text or json\n", output)
		return exitUsageError
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	switch {
	case !durationSet && o.count == 0:
		o.duration = defaultDuration
	case o.duration == 0 && o.count == 0:
		fmt.Fprintln(stderr, "loadgen: --duration 0 and no --count: sending until interrupted (Ctrl-C stops and reports)")
	}
	if o.traffic.Seed == 0 {
		o.traffic.Seed = uint64(time.Now().UnixNano())
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsageError
	}

	l := &load{options: o, progress: stderr}
	intakeConn, err := dial(intakeAddr, apiKey, useTLS)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsageError
	}
	defer intakeConn.Close()
	warmUp(ctx, intakeConn, 5*time.Second)
	l.intake = intakev1.NewIntakeServiceClient(intakeConn)
	if o.e2e {
		alertingConn, err := dial(alertingAddr, apiKey, useTLS)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsageError
		}
		defer alertingConn.Close()
		l.alerting = alertingv1.NewAlertingServiceClient(alertingConn)
	}

	rep, err := l.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitFailed
	}
	if output == "json" {
		if err := rep.writeJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitFailed
		}
	} else {
		rep.writeText(stdout)
	}
	if rep.Sent > 0 && rep.Accepted+rep.Duplicate == 0 {
		fmt.Fprintf(stderr, "loadgen: intake at %s stored no event; is it running, and is the API key right?\n", intakeAddr)
		return exitFailed
	}
	return exitOK
}

// dial connects to a feedloop service with the API key on every call.
func dial(addr, apiKey string, useTLS bool) (*grpc.ClientConn, error) {
	return client.Dial(client.Config{Addr: addr, APIKey: apiKey, TLS: useTLS, UserAgent: "feedloop-loadgen"})
}

// warmUp connects cc and waits up to timeout for the connection, so that
// the first call's latency is not the dial's. A server that cannot be
// reached shows up as failed calls in the report.
func warmUp(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		if s == connectivity.Ready || s == connectivity.TransientFailure || !cc.WaitForStateChange(ctx, s) {
			return
		}
	}
}
