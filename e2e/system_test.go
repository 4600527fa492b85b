// Package e2e runs feedloop as it runs in production — the four service
// binaries as separate processes, on a real NATS server with JetStream and
// a real redis-server with its append-only file — and checks what a user
// of the whole system relies on: events flow through to cases, duplicates
// count once, invalid events never enter, and crashes or restarts of any
// process lose nothing and count nothing twice.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// services in pipeline order.
var services = []string{"intake", "scoring", "segmentation", "alerting"}

// bins are the service binaries, built once for all tests.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "feedloop-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, s := range services {
		if bins[s], err = testkit.BuildInto("../services/"+s, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	apiKey = "feedloop-dev-key"
	tenant = "demo"
)

// system is the whole of feedloop started for one test.
type system struct {
	t     testing.TB
	nats  *testkit.JetStream
	redis *testkit.Redis
	js    jetstream.JetStream
	addr  map[string]string
	pprof map[string]string // each service's metrics address, when profiling (E2E_PROFILE)
	proc  map[string]*testkit.Process
	env   []string
	hook  *receiver

	intake       intakev1.IntakeServiceClient
	scoring      scoringv1.ScoringServiceClient
	segmentation segmentationv1.SegmentationServiceClient
	alerting     alertingv1.AlertingServiceClient
}

// start runs NATS, Redis and the four services. Redeliveries come after 3 s
// (the ack wait), so a crashed consumer's messages return quickly.
func start(t testing.TB) *system {
	s := &system{t: t, nats: testkit.StartJetStream(t), redis: testkit.StartDurableRedis(t),
		addr: map[string]string{}, pprof: map[string]string{}, proc: map[string]*testkit.Process{}, hook: newReceiver(t)}
	s.env = []string{
		"FEEDLOOP_NATS_URL=" + s.nats.ClientURL(), "FEEDLOOP_REDIS_URL=" + s.redis.URL,
		"FEEDLOOP_API_KEYS=" + apiKey + "=" + tenant, "FEEDLOOP_METRICS_ADDR=", "FEEDLOOP_RATE_LIMIT=0",
		"FEEDLOOP_CONSUMER_ACK_WAIT=4s", "FEEDLOOP_ALERTING_DELIVERY_TIMEOUT=2s", "FEEDLOOP_ALERTING_DELIVERY_RATE=1000",
		"FEEDLOOP_CONSUMER_RETRY_BASE=100ms", "FEEDLOOP_CONSUMER_RETRY_MAX=1s",
		"FEEDLOOP_ALERTING_WEBHOOK_URL=" + s.hook.srv.URL, "FEEDLOOP_ALERTING_WEBHOOK_SECRET=whsec_ZTJlLXRlc3Qtc2VjcmV0",
		"FEEDLOOP_LOG_LEVEL=warn",
	}
	for _, name := range services {
		s.addr[name] = testkit.FreeAddr(t)
		if profileDir != "" {
			s.pprof[name] = testkit.FreeAddr(t)
		}
		s.run(name)
	}
	nc, err := nats.Connect(s.nats.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if s.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	dial := func(name string) *grpc.ClientConn {
		cc, err := grpc.NewClient(s.addr[name], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	s.intake = intakev1.NewIntakeServiceClient(dial("intake"))
	s.scoring = scoringv1.NewScoringServiceClient(dial("scoring"))
	s.segmentation = segmentationv1.NewSegmentationServiceClient(dial("segmentation"))
	s.alerting = alertingv1.NewAlertingServiceClient(dial("alerting"))
	return s
}

// run starts (or restarts) a service on its address and waits until it
// serves.
func (s *system) run(name string) {
	s.t.Helper()
	env := append(s.env, "FEEDLOOP_GRPC_ADDR="+s.addr[name])
	if addr := s.pprof[name]; addr != "" {
		env = append(env, "FEEDLOOP_METRICS_ADDR="+addr, "FEEDLOOP_PPROF=true")
	}
	s.proc[name] = testkit.Start(s.t, bins[name], env...)
	testkit.WaitServing(s.t, s.addr[name], "", 30*time.Second)
}

// crash kills a service with SIGKILL and starts it again.
func (s *system) crash(name string) {
	s.t.Helper()
	s.proc[name].Kill()
	s.run(name)
}

// cpuTimes is the CPU time each process has used so far: the services,
// redis-server, and the test process with the NATS server and the clients.
func (s *system) cpuTimes() map[string]time.Duration {
	cpu := map[string]time.Duration{"redis": s.redis.CPUTime(), "test+nats": testkit.SelfCPUTime()}
	for name, p := range s.proc {
		cpu[name] = p.CPUTime()
	}
	return cpu
}

// consumers are every durable consumer of the system.
var consumers = []testkit.Durable{
	{Stream: "FEEDBACK", Name: "scoring"}, {Stream: "SCORED", Name: "segmentation"},
	{Stream: "FEEDBACK", Name: "segmentation-activity"}, {Stream: "CUSTOMERS", Name: "alerting"},
	{Stream: "RECOVERY", Name: "alerting-dispatch"}, {Stream: "DELIVERY", Name: "alerting-deliver-webhook"},
}

// settle waits until every consumer has handled everything.
func (s *system) settle(timeout time.Duration) {
	s.t.Helper()
	testkit.WaitIdle(s.t, s.js, timeout, consumers...)
}

func ctx() context.Context { return testkit.WithKey(apiKey) }

// receiver is the ops team's webhook: it records what it is sent.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string // the bodies
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, string(body))
		r.mu.Unlock()
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Listener = ln
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// stored is how many events the FEEDBACK stream holds (0 while NATS is away).
func (s *system) stored() uint64 {
	st, err := s.js.Stream(context.Background(), "FEEDBACK")
	if err != nil {
		return 0
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}
