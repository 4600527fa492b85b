package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/cmd/internal/client"
)

// service is one of the four services feedctl talks to.
type service struct {
	name        string // "intake"; also the flag prefix
	envVar      string // FEEDLOOP_INTAKE_ADDR
	defaultAddr string
}

var services = []service{
	{"intake", "FEEDLOOP_INTAKE_ADDR", client.DefaultIntakeAddr},
	{"scoring", "FEEDLOOP_SCORING_ADDR", client.DefaultScoringAddr},
	{"segmentation", "FEEDLOOP_SEGMENTATION_ADDR", client.DefaultSegmentationAddr},
	{"alerting", "FEEDLOOP_ALERTING_ADDR", client.DefaultAlertingAddr},
}

// app is one run of feedctl: its settings, its output and its connections.
type app struct {
	getenv func(string) string
	clock  clock
	// progressEvery is how often a non-terminal import reports progress.
	progressEvery time.Duration

	host    string
	addrs   map[string]*string // service name → its --<name>-addr flag
	apiKey  string
	tls     client.Config // TLS fields only
	output  string
	timeout time.Duration

	conns map[string]*grpc.ClientConn
	// running is set once a command's RunE starts: an error before that
	// is a usage error (cobra's flag, argument and required-flag checks).
	running bool
}

// run executes feedctl with args and returns the exit code. It is main
// without the process: tests call it with their own output and environment.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{
		getenv:        getenv,
		clock:         clock{now: time.Now, loc: time.Local},
		progressEvery: 5 * time.Second,
	}
	return a.execute(ctx, args, stdin, stdout, stderr)
}

func (a *app) execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	a.close()
	if err == nil {
		return exitOK
	}
	// Cobra reports unknown commands, bad flags, wrong argument counts and
	// missing required flags before any RunE: all of them are usage errors.
	if !a.running {
		err = usageError{err}
	}
	printError(stderr, err)
	if exitCode(err) == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return exitCode(err)
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "feedctl",
		Short: "Work with feedloop from the terminal: feedback, customers, reports and recovery cases",
		Long: `feedctl talks to the four feedloop services over gRPC.

Addresses default to the local stack (make run): intake 127.0.0.1:8081,
scoring :8082, segmentation :8083, alerting :8084. --host sets all four to
one host on those ports; --<service>-addr or FEEDLOOP_<SERVICE>_ADDR sets one.
The API key comes from --api-key or FEEDLOOP_API_KEY (default: the local
dev key).

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 rejected input,
5 not allowed in the case's current state, 6 bad API key, 130 interrupted.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.host, "host", "", "host of all four services, on ports 8081-8084 (env FEEDLOOP_HOST)")
	a.addrs = map[string]*string{}
	for _, s := range services {
		a.addrs[s.name] = pf.String(s.name+"-addr", "", fmt.Sprintf("%s address (env %s, default %s)", s.name, s.envVar, s.defaultAddr))
	}
	pf.StringVar(&a.apiKey, "api-key", "", "API key (env FEEDLOOP_API_KEY, default the local dev key)")
	pf.BoolVar(&a.tls.TLS, "tls", false, "use TLS (env FEEDLOOP_TLS=1)")
	pf.StringVar(&a.tls.CAFile, "ca-file", "", "PEM file of the CA that signed the servers' certificates (implies --tls)")
	pf.StringVar(&a.tls.CertFile, "cert-file", "", "client certificate for mTLS (implies --tls)")
	pf.StringVar(&a.tls.KeyFile, "key-file", "", "client key for mTLS")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 15*time.Second, "time limit of each call")
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("table", "json"))

	root.AddGroup(
		&cobra.Group{ID: "in", Title: "Send events:"},
		&cobra.Group{ID: "look", Title: "Customers and reports:"},
		&cobra.Group{ID: "cases", Title: "Recovery cases:"},
	)
	for _, c := range []*cobra.Command{a.submitCmd(), a.activityCmd(), a.importCmd()} {
		c.GroupID = "in"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.customerCmd(), a.customersCmd(), a.reportCmd(), a.tiersCmd()} {
		c.GroupID = "look"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.alertsCmd(), a.recoveryCmd()} {
		c.GroupID = "cases"
		root.AddCommand(c)
	}
	for _, c := range root.Commands() {
		requireSubcommand(c)
	}
	a.markRunning(root)
	return root
}

// requireSubcommand makes a command that only groups others reject an
// unknown subcommand as a usage error (cobra would print help and exit 0),
// with suggestions, and print its help when called alone.
func requireSubcommand(c *cobra.Command) {
	for _, sub := range c.Commands() {
		requireSubcommand(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageError{errors.New(msg)}
	}
}

// markRunning wraps every command's RunE to record that the command line
// passed cobra's checks, and checks the output format first.
func (a *app) markRunning(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			a.running = true
			if err := a.checkOutput(); err != nil {
				return err
			}
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		a.markRunning(sub)
	}
}

func (a *app) checkOutput() error {
	switch a.output {
	case "table", "json":
		return nil
	}
	return usagef("--output %q: want table or json", a.output)
}

func (a *app) json() bool { return a.output == "json" }

// resolveAddr picks a service's address: its own flag, then --host, then
// its environment variable, then FEEDLOOP_HOST, then the local default.
func resolveAddr(own, host, ownEnv, hostEnv, def string) string {
	_, port, _ := net.SplitHostPort(def)
	switch {
	case own != "":
		return own
	case host != "":
		return net.JoinHostPort(host, port)
	case ownEnv != "":
		return ownEnv
	case hostEnv != "":
		return net.JoinHostPort(hostEnv, port)
	}
	return def
}

// config is how to reach service s.
func (a *app) config(s service) client.Config {
	key := a.apiKey
	if key == "" {
		key = a.getenv("FEEDLOOP_API_KEY")
	}
	if key == "" {
		key = client.DevAPIKey
	}
	cfg := a.tls
	cfg.Addr = resolveAddr(*a.addrs[s.name], a.host, a.getenv(s.envVar), a.getenv("FEEDLOOP_HOST"), s.defaultAddr)
	cfg.APIKey = key
	cfg.UserAgent = "feedctl/" + version
	if cfg.CAFile != "" || cfg.CertFile != "" || truthy(a.getenv("FEEDLOOP_TLS")) {
		cfg.TLS = true
	}
	return cfg
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// conn returns the connection to the named service, dialing it once. Every
// call's error is wrapped with the service and address, so a failure says
// where it went.
func (a *app) conn(name string) (*grpc.ClientConn, error) {
	if cc, ok := a.conns[name]; ok {
		return cc, nil
	}
	var s service
	for _, s = range services {
		if s.name == name {
			break
		}
	}
	cfg := a.config(s)
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return &callError{service: s.name, addr: cfg.Addr, err: err}
	}
	cc, err := client.Dial(cfg,
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return wrap(invoker(ctx, method, req, reply, cc, opts...))
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			cs, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, wrap(err)
			}
			return wrappedStream{cs, wrap}, nil
		}),
	)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", s.name, err)}
	}
	if a.conns == nil {
		a.conns = map[string]*grpc.ClientConn{}
	}
	a.conns[name] = cc
	return cc, nil
}

// wrappedStream wraps the errors of a server stream's messages, as the
// unary interceptor does for calls.
type wrappedStream struct {
	grpc.ClientStream
	wrap func(error) error
}

func (s wrappedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if errors.Is(err, io.EOF) {
		return err
	}
	return s.wrap(err)
}

func (a *app) close() {
	for _, cc := range a.conns {
		_ = cc.Close()
	}
	a.conns = nil
}

// serviceClient returns a client of the named service on its connection.
func serviceClient[C any](a *app, name string, newClient func(grpc.ClientConnInterface) C) (C, error) {
	cc, err := a.conn(name)
	if err != nil {
		var none C
		return none, err
	}
	return newClient(cc), nil
}

func (a *app) intake() (intakev1.IntakeServiceClient, error) {
	return serviceClient(a, "intake", intakev1.NewIntakeServiceClient)
}

func (a *app) scoring() (scoringv1.ScoringServiceClient, error) {
	return serviceClient(a, "scoring", scoringv1.NewScoringServiceClient)
}

func (a *app) segmentation() (segmentationv1.SegmentationServiceClient, error) {
	return serviceClient(a, "segmentation", segmentationv1.NewSegmentationServiceClient)
}

func (a *app) alerting() (alertingv1.AlertingServiceClient, error) {
	return serviceClient(a, "alerting", alertingv1.NewAlertingServiceClient)
}

// callCtx bounds one call by --timeout.
func (a *app) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// call makes one call of a service, bounded by --timeout: connect is the
// service's client (a.alerting), rpc the method
// (alertingv1.AlertingServiceClient.GetAlert).
func call[C, Req, Resp any](ctx context.Context, a *app, connect func() (C, error),
	rpc func(C, context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	svc, err := connect()
	if err != nil {
		var none Resp
		return none, err
	}
	ctx, cancel := a.callCtx(ctx)
	defer cancel()
	return rpc(svc, ctx, req)
}

// terminal returns w as a terminal file, or nil when it is not one.
func terminal(w io.Writer) *os.File {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// fixedCompletion completes a flag from a fixed list of values.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
