package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/cmd/internal/traffic"
	"github.com/feedloop/feedloop/pkg/testkit"
)

const apiKey = "loadgen-test-key-0000"

// stack is real services started as processes against an embedded
// JetStream and a redis-server, as production runs them.
type stack struct {
	js    jetstream.JetStream
	addrs map[string]string // service name → gRPC address
}

// build builds the named services (intake, scoring, ...): service name →
// binary.
func build(t *testing.T, services ...string) map[string]string {
	t.Helper()
	bins := map[string]string{}
	for _, name := range services {
		bins[name] = testkit.Build(t, "../../services/"+name)
	}
	return bins
}

// startStack starts the services built by build.
func startStack(t *testing.T, bins map[string]string) *stack {
	t.Helper()
	st := testkit.StartStack(t, apiKey+"=loadtest")
	s := &stack{js: st.JS, addrs: map[string]string{}}
	// In pipeline order, as make run starts them.
	for _, name := range []string{"intake", "scoring", "segmentation", "alerting"} {
		bin, ok := bins[name]
		if !ok {
			continue
		}
		addr := testkit.FreeAddr(t)
		testkit.Start(t, bin,
			"FEEDLOOP_GRPC_ADDR="+addr,
			// An empty address means the default (:9091…), which may be taken.
			"FEEDLOOP_METRICS_ADDR="+testkit.FreeAddr(t),
			"FEEDLOOP_NATS_URL="+st.NATS.ClientURL(),
			"FEEDLOOP_REDIS_URL="+st.Redis.URL,
			"FEEDLOOP_API_KEYS="+apiKey+"=loadtest",
			"FEEDLOOP_RATE_LIMIT=0",
			"FEEDLOOP_LOG_LEVEL=warn")
		testkit.WaitServing(t, addr, "", 30*time.Second)
		s.addrs[name] = addr
	}
	return s
}

func (s *stack) conn(t *testing.T, service string) *grpc.ClientConn {
	t.Helper()
	cc, err := dial(s.addrs[service], apiKey, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// feedbackStream returns the ids of the events the FEEDBACK stream holds,
// and how many it holds.
func (s *stack) feedbackStream(t *testing.T) (ids map[string]bool, n int) {
	t.Helper()
	ids = map[string]bool{}
	msgs := testkit.StreamMessages(t, s.js, "FEEDBACK")
	for _, m := range msgs {
		_, id, _ := strings.Cut(m.Header.Get(jetstream.MsgIDHeader), "/") // tenant/event id
		ids[id] = true
	}
	return ids, len(msgs)
}

// TestLoadAgainstIntake runs the load for about two seconds at 200 events/s
// against the real intake and checks the report against what the stream
// holds: every accepted event stored once, every invalid event rejected.
func TestLoadAgainstIntake(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the intake service")
	}
	bins := build(t, "intake")
	mix := traffic.Config{Seed: 42, Customers: 300, PurchaseShare: .3, DuplicateRate: .05, InvalidRate: .05}
	tests := []struct {
		name string
		opts options
	}{
		{"open loop, one by one", options{rate: 200, duration: 2 * time.Second}},
		{"open loop, batches of 20", options{rate: 200, duration: 2 * time.Second, batch: 20}},
		{"closed loop, by count", options{count: 400, concurrency: 8, batch: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, bins)
			o := tt.opts
			o.traffic = mix
			o.concurrency = max(o.concurrency, 16)
			o.batch = max(o.batch, 1)
			o.timeout = 5 * time.Second
			sent := map[traffic.Kind]int{}
			stored := map[string]bool{}  // event ids intake accepted or called duplicate
			invalid := map[string]bool{} // ids of invalid events
			var progress bytes.Buffer
			l := &load{
				options:  o,
				intake:   intakev1.NewIntakeServiceClient(s.conn(t, "intake")),
				progress: &progress,
				observe: func(ev traffic.Event, out outcome) {
					sent[ev.Kind]++
					switch {
					case ev.Kind == traffic.KindInvalid:
						invalid[ev.EventID()] = true
						if out != rejected {
							t.Errorf("invalid event %s (%s) was %s", ev.EventID(), ev.Flaw, out)
						}
					case out == accepted || out == duplicate:
						stored[ev.EventID()] = true
					default:
						t.Errorf("%s event %s was %s", ev.Kind, ev.EventID(), out)
					}
				},
			}
			l.every = 500 * time.Millisecond
			start := time.Now()
			rep, err := l.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v\n%s", rep, progress.String())

			if o.duration > 0 {
				if took := time.Since(start); took > o.duration+3*time.Second {
					t.Errorf("run took %v, want about %v", took, o.duration)
				}
				if want := int64(o.rate * o.duration.Seconds()); rep.Sent < want*9/10 || rep.Sent > want {
					t.Errorf("sent %d, want about %d", rep.Sent, want)
				}
			} else if rep.Sent != int64(o.count) {
				t.Errorf("sent %d, want %d", rep.Sent, o.count)
			}
			if sent[traffic.KindInvalid] == 0 || sent[traffic.KindDuplicate] == 0 {
				t.Errorf("sent by kind = %v, want some invalid and duplicate events", sent)
			}
			if rep.Failed != 0 || rep.Unexpected != 0 || rep.Rejected != int64(sent[traffic.KindInvalid]) {
				t.Errorf("report = %+v, want no failed or unexpected events and the %d invalid ones rejected", rep, sent[traffic.KindInvalid])
			}
			if rep.Accepted+rep.Duplicate+rep.Rejected != rep.Sent {
				t.Errorf("accepted %d + duplicate %d + rejected %d != sent %d", rep.Accepted, rep.Duplicate, rep.Rejected, rep.Sent)
			}
			if rep.Intake.Count == 0 || rep.Intake.P50 <= 0 || rep.Intake.P99 < rep.Intake.P50 {
				t.Errorf("intake latency = %+v", rep.Intake)
			}
			if o.duration > 0 && !strings.Contains(progress.String(), "accepted") {
				t.Errorf("no progress lines: %q", progress.String())
			}

			ids, n := s.feedbackStream(t)
			if int64(n) != rep.Accepted {
				t.Errorf("FEEDBACK holds %d events, report says %d accepted", n, rep.Accepted)
			}
			if len(ids) != n || len(ids) != len(stored) {
				t.Errorf("FEEDBACK holds %d events with %d distinct ids; %d distinct ids were stored or duplicate", n, len(ids), len(stored))
			}
			for id := range invalid {
				if ids[id] {
					t.Errorf("invalid event %s is on the stream", id)
				}
			}
		})
	}
}

// TestCommandReportsJSON runs the command as a user would, with -o json.
func TestCommandReportsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the intake service")
	}
	s := startStack(t, build(t, "intake"))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--rate", "0", "--count", "300", "--concurrency", "4", "--batch", "10", "--seed", "7", "-o", "json"},
		&stdout, &stderr, env(map[string]string{"FEEDLOOP_INTAKE_ADDR": s.addrs["intake"], "FEEDLOOP_API_KEY": apiKey}))
	if code != exitOK {
		t.Fatalf("exit code %d\n%s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if rep.Seed != 7 || rep.Mode != "closed-loop" || rep.Sent != 300 || rep.Accepted == 0 || rep.AcceptedPerSecond <= 0 {
		t.Errorf("report = %s", stdout.String())
	}
	if _, n := s.feedbackStream(t); int64(n) != rep.Accepted {
		t.Errorf("FEEDBACK holds %d events, report says %d accepted", n, rep.Accepted)
	}
}

func TestCommandFailures(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"bad flag", []string{"--rate", "fast"}, exitUsageError, "invalid value"},
		{"bad batch", []string{"--batch", "501"}, exitUsageError, "batch 501"},
		{"bad rates", []string{"--duplicates", "0.7", "--invalid", "0.7"}, exitUsageError, "at most 1"},
		{"bad output", []string{"-o", "yaml"}, exitUsageError, "want text or json"},
		// Nothing listens there: every call fails, which is not a success.
		{"no intake", []string{"--intake", testkit.FreeAddr(t), "--count", "5", "--rate", "0", "--timeout", "2s"}, exitFailed, "stored no event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, env(nil))
			if code != tt.code || !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.says)
			}
		})
	}
}

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// TestEndToEndLatency runs the four services and measures from submission
// to the case change on WatchAlerts.
func TestEndToEndLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts all four services")
	}
	s := startStack(t, build(t, "intake", "scoring", "segmentation", "alerting"))
	l := &load{
		options: options{
			rate: 300, duration: 3 * time.Second, concurrency: 32, batch: 1, timeout: 5 * time.Second,
			traffic: traffic.Config{Seed: 3, Customers: 200, PurchaseShare: .3},
			e2e:     true, e2eWait: 10 * time.Second,
		},
		intake:   intakev1.NewIntakeServiceClient(s.conn(t, "intake")),
		alerting: alertingv1.NewAlertingServiceClient(s.conn(t, "alerting")),
	}
	rep, err := l.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := rep.E2E
	t.Logf("accepted %d, e2e %+v", rep.Accepted, e)
	if e == nil || e.WatchError != "" || e.Matched == 0 || e.Matched > e.CaseChanges {
		t.Fatalf("e2e = %+v, want matched case changes", e)
	}
	if l := e.Latency; l.Count != e.Matched || l.P50 <= 0 || l.P50 > 2000 || l.Max < l.P99 {
		t.Errorf("e2e latency = %+v", l)
	}
}
