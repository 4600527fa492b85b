// Package grpcx assembles the gRPC server every feedloop service runs: health
// and reflection, OpenTelemetry, panic recovery, API-key authentication to a
// tenant, per-key rate limits, request validation with field violations,
// size and keepalive limits, and a graceful stop with a deadline.
package grpcx

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Validate returns every problem with a request message, or nil.
type Validate func(req proto.Message) []*FieldViolation

// Option adjusts a Server.
type Option func(*Server)

// WithValidation replaces the default request validation (each message's
// protovalidate rules, after a UTF-8 check of every string), for a service
// that checks more than its protos can say or must check faster.
func WithValidation(v Validate) Option { return func(s *Server) { s.validateReq = v } }

// Server is a gRPC server with feedloop's standard assembly. Register the
// service's handlers on GRPC, then call Serve.
type Server struct {
	GRPC        *grpc.Server
	health      *health.Server
	cfg         Config
	log         *slog.Logger
	validateReq Validate
	limits      map[[sha256.Size]byte]*rate.Limiter
	invalid     metric.Int64Counter
}

// New builds the server.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Server, error) {
	invalid, err := otel.Meter("github.com/feedloop/feedloop/pkg/grpcx").Int64Counter("feedloop.rpc.invalid_requests",
		metric.WithDescription("Requests rejected as invalid (INVALID_ARGUMENT), by method."))
	if err != nil {
		return nil, err
	}
	s := &Server{
		health:  health.NewServer(),
		cfg:     cfg,
		log:     log,
		limits:  map[[sha256.Size]byte]*rate.Limiter{},
		invalid: invalid,
	}
	for _, o := range opts {
		o(s)
	}
	if s.validateReq == nil {
		v, err := NewValidator()
		if err != nil {
			return nil, err
		}
		s.validateReq = func(req proto.Message) []*FieldViolation { return v.Violations(req, "") }
	}
	if cfg.RateLimit > 0 {
		for k := range cfg.Keys {
			s.limits[k] = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
		}
	}
	sopts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(s.unaryRecover, s.unaryGuard),
		grpc.ChainStreamInterceptor(s.streamRecover, s.streamGuard),
		grpc.MaxRecvMsgSize(cfg.MaxRecvBytes),
		// Stop returns only after every handler has returned, so what the
		// service closes after it (NATS, Redis) is no longer in use.
		grpc.WaitForHandlers(true),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// Rotating connections now and then spreads load over new replicas.
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: 30 * time.Second, Timeout: 10 * time.Second,
			MaxConnectionAge: 30 * time.Minute, MaxConnectionAgeGrace: 30 * time.Second,
		}),
	}
	if cfg.TLSCertFile != "" {
		tlsCfg, err := serverTLS(cfg)
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	s.GRPC = grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(s.GRPC, s.health)
	reflection.Register(s.GRPC)
	return s, nil
}

func serverTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls key pair: %w", err)
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("tls client CA: no certificates found")
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// Serve marks every registered service SERVING and serves on ln until
// Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	for name := range s.GRPC.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("grpc serving", "addr", ln.Addr().String())
	return s.GRPC.Serve(ln)
}

// Listen opens the configured address, with a clear error when it is taken.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (FEEDLOOP_GRPC_ADDR): %w", s.cfg.Addr, err)
	}
	return ln, nil
}

// Run serves on ln until ctx ends (a SIGTERM, typically), then shuts down
// gracefully. It returns when the server has stopped.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc server: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down grpc server")
		s.Shutdown()
		return nil
	}
}

// Shutdown reports NOT_SERVING to health watchers, refuses new calls, lets
// in-flight calls finish for up to the configured grace, then cuts the rest.
// (On Kubernetes a preStop delay lets endpoints update before this runs.)
func (s *Server) Shutdown() {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.cfg.ShutdownGrace):
		s.log.Warn("grace period over; closing remaining calls", "grace", s.cfg.ShutdownGrace)
		s.GRPC.Stop()
		<-done
	}
}

type tenantKey struct{}

// Tenant returns the tenant the caller authenticated as. Handlers behind the
// server's auth always have one.
func Tenant(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// public methods need no API key: probes and tooling.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

// authenticate maps the bearer key to its tenant and charges its rate limit.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing authorization metadata: want \"Bearer <api key>\"")
	}
	key, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "authorization must be \"Bearer <api key>\"")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	tenant, ok := s.cfg.Keys[sum]
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	}
	if lim := s.limits[sum]; lim != nil {
		r := lim.Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			st, _ := status.New(codes.ResourceExhausted, "rate limit exceeded for this API key").
				WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
			return nil, st.Err()
		}
	}
	return context.WithValue(ctx, tenantKey{}, tenant), nil
}

func (s *Server) validate(ctx context.Context, method string, req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	if v := s.validateReq(msg); len(v) > 0 {
		s.invalid.Add(ctx, 1, metric.WithAttributes(attribute.String("rpc.method", method)))
		return InvalidArgument(v).Err()
	}
	return nil
}

// unaryGuard authenticates the caller and validates the request.
func (s *Server) unaryGuard(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if public(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.validate(ctx, info.FullMethod, req); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return h(ctx, req)
}

// guardedStream carries the caller's tenant and validates each request.
type guardedStream struct {
	grpc.ServerStream
	ctx    context.Context
	s      *Server
	method string
}

func (w *guardedStream) Context() context.Context { return w.ctx }

func (w *guardedStream) RecvMsg(m any) error {
	if err := w.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return w.s.validate(w.ctx, w.method, m)
}

// streamGuard authenticates the caller and validates every request message.
func (s *Server) streamGuard(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if public(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &guardedStream{ServerStream: ss, ctx: ctx, s: s, method: info.FullMethod})
}

func (s *Server) streamRecover(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ss.Context(), "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return h(srv, ss)
}
