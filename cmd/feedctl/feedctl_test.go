package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// stack is the four services, built from this repository and run as
// processes on a real JetStream and redis-server, and feedctl pointed at
// them.
type stack struct {
	st    *testkit.Stack
	env   map[string]string
	stdin string // what feedctl reads from standard input
}

func startServices(t *testing.T) *stack {
	t.Helper()
	st := testkit.StartStack(t, "feedloop-dev-key=demo")
	s := &stack{st: st, env: map[string]string{"FEEDLOOP_API_KEY": "feedloop-dev-key"}}
	// In pipeline order: each service's input stream is made by the one
	// before it.
	for _, name := range []string{"intake", "scoring", "segmentation", "alerting"} {
		bin := testkit.Build(t, "../../services/"+name)
		addr := testkit.FreeAddr(t)
		testkit.Start(t, bin,
			"FEEDLOOP_NATS_URL="+st.NATS.ClientURL(),
			"FEEDLOOP_REDIS_URL="+st.Redis.URL,
			"FEEDLOOP_API_KEYS=feedloop-dev-key=demo",
			"FEEDLOOP_GRPC_ADDR="+addr,
			"FEEDLOOP_METRICS_ADDR=", // off: a local stack may hold the default ports
			"FEEDLOOP_RATE_LIMIT=0",
			"FEEDLOOP_LOG_LEVEL=warn",
		)
		testkit.WaitServing(t, addr, "", 60*time.Second)
		s.env["FEEDLOOP_"+strings.ToUpper(name)+"_ADDR"] = addr
	}
	return s
}

// result is one run of feedctl.
type result struct {
	out, err string
	code     int
}

func (s *stack) feedctl(ctx context.Context, args ...string) result {
	var out, errOut syncBuffer
	code := s.run(ctx, &out, &errOut, args...)
	return result{out.String(), errOut.String(), code}
}

func (s *stack) run(ctx context.Context, out, errOut *syncBuffer, args ...string) int {
	return run(ctx, args, strings.NewReader(s.stdin), out, errOut, func(k string) string { return s.env[k] })
}

// must runs feedctl and fails the test unless it exits with code.
func (s *stack) must(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := s.feedctl(context.Background(), args...)
	t.Logf("$ feedctl %s  (exit %d)\n%s%s", strings.Join(args, " "), r.code, r.out, r.err)
	if r.code != code {
		t.Fatalf("feedctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.out, r.err)
	}
	return r
}

func eventually(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watching is a feedctl alerts watch running in the background.
type watching struct {
	out, err syncBuffer
	stop     context.CancelFunc
	done     chan int
}

// startWatch starts feedctl with args (a watch) and waits until it is in place.
func (s *stack) startWatch(t *testing.T, args ...string) *watching {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	w := &watching{stop: stop, done: make(chan int, 1)}
	go func() { w.done <- s.run(ctx, &w.out, &w.err, args...) }()
	t.Cleanup(stop)
	eventually(t, "the watch in place", 30*time.Second, func() bool { return strings.Contains(w.err.String(), "watching case changes") })
	return w
}

// stopAfter waits for want in the watch's output, then stops it as Ctrl-C
// does, requires exit 0, and returns what it printed.
func (w *watching) stopAfter(t *testing.T, want string) (stdout, stderr string) {
	t.Helper()
	eventually(t, "the watch prints "+want, 30*time.Second, func() bool { return strings.Contains(w.out.String(), want) })
	w.stop()
	select {
	case code := <-w.done:
		if code != exitOK {
			t.Errorf("watch exit %d after Ctrl-C, want 0\nstdout:\n%s\nstderr:\n%s", code, w.out.String(), w.err.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not stop within 10s of Ctrl-C")
	}
	return w.out.String(), w.err.String()
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (s *stack) feedbackStored(t *testing.T) uint64 {
	t.Helper()
	stream, err := s.st.JS.Stream(context.Background(), "FEEDBACK")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestFeedctl drives feedctl through a case's life, an import and a
// customer's profile against the real services.
func TestFeedctl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the four services")
	}
	s := startServices(t)

	// A live watch from the start, as an ops person would keep open.
	watch := s.startWatch(t, "alerts", "watch")

	// A detractor's complaint, and a purchase.
	r := s.must(t, exitOK, "submit", "--customer", "c-1", "--channel", "app", "--touchpoint", "delivery",
		"--nps", "2", "--comment", "late again, very disappointed", "--complaint", "delivery", "--event-id", "e2e-1")
	contains(t, "submit", r.out, "stored feedback e2e-1")
	r = s.must(t, exitOK, "submit", "--customer", "c-1", "--channel", "app", "--nps", "2", "--event-id", "e2e-1")
	contains(t, "the same event again", r.out, "already stored")
	s.must(t, exitOK, "activity", "--customer", "c-1", "--channel", "web", "--order", "o-1", "--amount", "120.00", "--currency", "USD")

	// Invalid input: every field violation, exit 4.
	r = s.must(t, exitInvalid, "submit", "--customer", "c-1", "--channel", "app", "--nps", "11", "--csat", "9")
	contains(t, "invalid submit", r.err, "InvalidArgument", "feedback.nps:", "feedback.csat:")

	// The case opens: alerts list shows it.
	var caseID string
	eventually(t, "a case for c-1", 30*time.Second, func() bool {
		r := s.must(t, exitOK, "alerts", "list", "--customer", "c-1", "-o", "json")
		var resp alertingv1.ListAlertsResponse
		if err := protojson.Unmarshal([]byte(r.out), &resp); err != nil {
			t.Fatalf("alerts list -o json: %v\n%s", err, r.out)
		}
		if len(resp.GetCases()) > 0 {
			caseID = resp.GetCases()[0].GetCaseId()
		}
		return caseID != ""
	})
	r = s.must(t, exitOK, "alerts", "list", "--state", "open")
	contains(t, "alerts list", r.out, "CASE", "SEVERITY", caseID, "c-1", "complaint", "open")

	// Acknowledge, then an illegal second acknowledgement, then resolve.
	r = s.must(t, exitOK, "alerts", "ack", caseID, "--by", "olivia")
	contains(t, "alerts ack", r.out, "case "+caseID+" acknowledged", "resolve in")
	r = s.must(t, exitConflict, "alerts", "ack", caseID, "--by", "olivia")
	contains(t, "second ack", r.err, "FailedPrecondition")
	r = s.must(t, exitOK, "alerts", "resolve", caseID, "--by", "olivia", "--root-cause", "courier lost the parcel",
		"--apology", "--compensation", "10.00USD", "--fix", "re-shipped express")
	contains(t, "alerts resolve", r.out, "case "+caseID+" resolved")

	r = s.must(t, exitOK, "alerts", "get", caseID)
	contains(t, "alerts get", r.out, "State:", "resolved", "Root cause:", "courier lost the parcel",
		"apology; fix: re-shipped express; compensation 10.00 USD", "History:", "opened", "acknowledged", "olivia")
	if !regexp.MustCompile(`(?m)^\s+\S+ \S+\s+resolved\s+olivia`).MatchString(r.out) {
		t.Errorf("history has no resolved row by olivia:\n%s", r.out)
	}
	r = s.must(t, exitNotFound, "alerts", "get", "no-such-case")
	contains(t, "unknown case", r.err, "NotFound")

	// The watch saw the three changes; Ctrl-C ends it with the cursor.
	watchOut, watchErr := watch.stopAfter(t, "resolved")
	watched := strings.Split(strings.TrimSpace(watchOut), "\n")
	if len(watched) < 3 || !strings.Contains(watched[0], "opened") || !strings.Contains(watched[0], caseID) {
		t.Fatalf("watch printed:\n%s", watchOut)
	}
	contains(t, "watch stderr", watchErr, "resume with feedctl alerts watch --resume ")
	// Resuming after the opening sees what came after it.
	opened := strings.Fields(watched[0])[0]
	resumedOut, _ := s.startWatch(t, "alerts", "watch", "--resume", opened).stopAfter(t, "resolved")
	if strings.Contains(resumedOut, "opened") || !strings.Contains(resumedOut, "acknowledged") {
		t.Errorf("watch --resume %s printed:\n%s", opened, resumedOut)
	}

	// Import a file with one invalid line: 2 accepted, 1 rejected with the
	// reason; again with --resume: nothing sent.
	file := filepath.Join(t.TempDir(), "survey.jsonl")
	lines := `{"customerId": "c-2", "channel": "CHANNEL_WEB", "nps": 9, "touchpoint": "checkout"}
{"customerId": "c-3", "channel": "CHANNEL_APP", "nps": 11}
{"customerId": "c-4", "channel": "CHANNEL_EMAIL", "csat": 2, "comment": {"text": "slow refund"}}
`
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	before := s.feedbackStored(t)
	r = s.must(t, exitInvalid, "import", file)
	contains(t, "import", r.out, "survey.jsonl: 3 read, 2 accepted, 0 duplicate, 1 rejected", "REASON",
		"nps: value must be greater than or equal to 0 and less than or equal to 10")
	if !regexp.MustCompile(`(?m)^1\s+nps: .*\s2$`).MatchString(r.out) {
		t.Errorf("import summary does not name line 2 for the NPS:\n%s", r.out)
	}
	if got := s.feedbackStored(t); got != before+2 {
		t.Errorf("FEEDBACK holds %d new events, want 2", got-before)
	}
	r = s.must(t, exitOK, "import", "--resume", file)
	contains(t, "import --resume", r.out, "0 read, 0 accepted, 0 duplicate, 0 rejected (3 skipped: done before)")
	r = s.must(t, exitInvalid, "import", file)
	contains(t, "import again", r.out, "0 accepted, 2 duplicate, 1 rejected")
	if got := s.feedbackStored(t); got != before+2 {
		t.Errorf("after the resume and the repeat FEEDBACK holds %d new events, want 2", got-before)
	}

	// CSV from standard input.
	s.stdin = "customer_id,channel,touchpoint,nps,csat,comment\n" +
		"c-5,web,checkout,10,,\n" +
		"c-6,store,checkout,,4,\"quick, friendly staff\"\n"
	r = s.must(t, exitOK, "import", "--format", "csv", "-")
	contains(t, "import CSV", r.out, "stdin: 2 read, 2 accepted, 0 duplicate, 0 rejected")
	s.stdin = ""

	// The customer's profile, scores, reports.
	r = s.must(t, exitOK, "customer", "get", "c-1")
	contains(t, "customer get", r.out, "Customer:", "c-1", "Tier:", "Churn risk:", "Purchases:", "120.00 USD")
	r = s.must(t, exitOK, "customer", "scores", "c-1")
	contains(t, "customer scores", r.out, "1 detractors", "1 complaints")
	r = s.must(t, exitOK, "report", "nps", "--window", "7d", "--touchpoint", "delivery")
	contains(t, "report nps", r.out, "Responses:", "-100.0", "1 detractors", "touchpoint delivery")
	eventually(t, "the tier report counts the imported customers", 30*time.Second, func() bool {
		return strings.Contains(s.must(t, exitOK, "tiers", "report").out, "5 customers")
	})
	r = s.must(t, exitOK, "recovery", "report", "--since", "1d")
	if !regexp.MustCompile(`(?m)^all\s+1\s+1\s+1\s`).MatchString(r.out) {
		t.Errorf("recovery report: want 1 opened, acknowledged and resolved:\n%s", r.out)
	}
	r = s.must(t, exitOK, "customers", "list", "--order", "value")
	contains(t, "customers list", r.out, "CUSTOMER", "c-1", "120.00 USD")

	// Erasure needs --yes; then the customer is gone.
	s.must(t, exitUsage, "customer", "erase", "c-1")
	r = s.must(t, exitOK, "customer", "erase", "c-1", "--yes")
	contains(t, "erase", r.out, "erased c-1")
	s.must(t, exitNotFound, "customer", "get", "c-1")

	// A wrong key is its own exit code.
	s.env["FEEDLOOP_API_KEY"] = "not-a-key-of-this-stack"
	r = s.must(t, exitAuth, "alerts", "list")
	contains(t, "wrong key", r.err, "Unauthenticated", "FEEDLOOP_API_KEY")
}
