package grpcx_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/testkit"
)

const (
	keyA = "tenant-a-key-0123456789"
	keyB = "tenant-b-key-0123456789"
)

// echo answers with the caller's tenant, and panics on customer "panic".
type echo struct {
	intakev1.UnimplementedIntakeServiceServer
}

func (echo) SubmitFeedback(ctx context.Context, req *intakev1.SubmitFeedbackRequest) (*intakev1.SubmitFeedbackResponse, error) {
	if req.GetFeedback().GetCustomerId() == "panic" {
		panic("boom")
	}
	return &intakev1.SubmitFeedbackResponse{EventId: grpcx.Tenant(ctx)}, nil
}

func start(t *testing.T, env map[string]string) (intakev1.IntakeServiceClient, *grpc.ClientConn, *grpcx.Server) {
	t.Helper()
	base := map[string]string{"FEEDLOOP_API_KEYS": keyA + "=tenant-a," + keyB + "=tenant-b", "FEEDLOOP_RATE_LIMIT": "0"}
	for k, v := range env {
		base[k] = v
	}
	e := config.FromMap(base)
	cfg := grpcx.ConfigFromEnv(e, "127.0.0.1:0")
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	intakev1.RegisterIntakeServiceServer(srv.GRPC, echo{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Shutdown)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return intakev1.NewIntakeServiceClient(cc), cc, srv
}

func valid() *intakev1.SubmitFeedbackRequest {
	return &intakev1.SubmitFeedbackRequest{Feedback: &intakev1.Feedback{
		CustomerId: "c1", Channel: intakev1.Channel_CHANNEL_WEB, Nps: proto.Int32(3),
	}}
}

func TestAuthMapsKeyToTenant(t *testing.T) {
	c, _, _ := start(t, nil)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want codes.Code
		tent string
	}{
		{"tenant a", testkit.WithKey(keyA), codes.OK, "tenant-a"},
		{"tenant b", testkit.WithKey(keyB), codes.OK, "tenant-b"},
		{"no key", context.Background(), codes.Unauthenticated, ""},
		{"wrong key", testkit.WithKey("not-a-real-key-at-all"), codes.Unauthenticated, ""},
		{"not bearer", metadata.AppendToOutgoingContext(context.Background(), "authorization", keyA), codes.Unauthenticated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.SubmitFeedback(tc.ctx, valid())
			if status.Code(err) != tc.want {
				t.Fatalf("code = %v (%v), want %v", status.Code(err), err, tc.want)
			}
			if resp.GetEventId() != tc.tent {
				t.Errorf("tenant = %q, want %q", resp.GetEventId(), tc.tent)
			}
		})
	}
}

func TestHealthNeedsNoKeyAndTurnsNotServingOnShutdown(t *testing.T) {
	_, cc, srv := start(t, map[string]string{"FEEDLOOP_SHUTDOWN_GRACE": "1s"})
	h := healthpb.NewHealthClient(cc)
	resp, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "feedloop.intake.v1.IntakeService"})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
	watch, err := h.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first watch update = %v, %v", first, err)
	}
	go srv.Shutdown()
	next, err := watch.Recv()
	if err != nil || next.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("update on shutdown = %v, %v; want NOT_SERVING", next, err)
	}
}

func TestValidationReportsEveryFieldViolation(t *testing.T) {
	c, _, _ := start(t, nil)
	req := &intakev1.SubmitFeedbackRequest{Feedback: &intakev1.Feedback{
		CustomerId: "c1",
		Channel:    intakev1.Channel(42),
		Nps:        proto.Int32(11),
		Attributes: map[string]string{"Bad Key": "v"},
	}}
	_, err := c.SubmitFeedback(testkit.WithKey(keyA), req)
	fields := testkit.FieldViolations(t, err)
	for _, want := range []string{"feedback.channel", "feedback.nps", `feedback.attributes["Bad Key"]`} {
		if _, ok := fields[want]; !ok {
			t.Errorf("no violation for %s; got %v", want, fields)
		}
	}
}

func TestInvalidUTF8IsAFieldViolation(t *testing.T) {
	c, _, _ := start(t, nil)
	req := valid()
	req.Feedback.Comment = &intakev1.Comment{Text: "bad \xff byte"}
	fields := testkit.FieldViolations(t, func() error { _, err := c.SubmitFeedback(testkit.WithKey(keyA), req); return err }())
	if d := fields["feedback.comment.text"]; !strings.Contains(d, "UTF-8") {
		t.Errorf("violations = %v, want feedback.comment.text: UTF-8", fields)
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	c, _, _ := start(t, nil)
	req := valid()
	req.Feedback.CustomerId = "panic"
	if _, err := c.SubmitFeedback(testkit.WithKey(keyA), req); status.Code(err) != codes.Internal {
		t.Fatalf("code = %v, want Internal", status.Code(err))
	}
	if _, err := c.SubmitFeedback(testkit.WithKey(keyA), valid()); err != nil {
		t.Fatalf("server unusable after a panic: %v", err)
	}
}

func TestRateLimitPerKey(t *testing.T) {
	c, _, _ := start(t, map[string]string{"FEEDLOOP_RATE_LIMIT": "1", "FEEDLOOP_RATE_BURST": "3"})
	var limited error
	for range 4 {
		if _, err := c.SubmitFeedback(testkit.WithKey(keyA), valid()); err != nil {
			limited = err
			break
		}
	}
	st := status.Convert(limited)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("4th call in a burst of 3: %v, want ResourceExhausted", limited)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		retry, _ = d.(*errdetails.RetryInfo)
	}
	if retry == nil || retry.RetryDelay.AsDuration() <= 0 || retry.RetryDelay.AsDuration() > time.Second {
		t.Errorf("retry info = %v, want a delay in (0, 1s]", retry)
	}
	if _, err := c.SubmitFeedback(testkit.WithKey(keyB), valid()); err != nil {
		t.Errorf("another key was limited too: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	for _, tc := range []struct {
		spec, err string
		n         int
	}{
		{spec: "feedloop-dev-key=demo", n: 1},
		{spec: "# comment\naaaaaaaaaaaaaaaa=a\n\nbbbbbbbbbbbbbbbb = b-2 # trailing", n: 2},
		{spec: "aaaaaaaaaaaaaaaa=a,bbbbbbbbbbbbbbbb=b", n: 2},
		{spec: "", err: "no API keys"},
		{spec: "short=a", err: "shorter than 16"},
		{spec: "aaaaaaaaaaaaaaaa=Bad.Tenant", err: "tenant"},
		{spec: "aaaaaaaaaaaaaaaa", err: "key=tenant"},
	} {
		keys, err := grpcx.ParseKeys(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseKeys(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || len(keys) != tc.n {
			t.Errorf("ParseKeys(%q) = %d keys, %v; want %d", tc.spec, len(keys), err, tc.n)
		}
	}
}
