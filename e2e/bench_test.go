package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// The system benchmarks measure the whole of feedloop on this machine, run
// side by side:
//
//	go test -run '^$' -bench 'System|Relay' -benchtime 40000x -count 3 -cpu 1 . | tee system.txt; benchstat -col .name system.txt
//
// BenchmarkSystem sends b.N events (a fifth purchases) through intake's
// gRPC API as fast as 32 clients can (feedback and purchases in batches of
// 100), and times until all four services have
// handled everything (every consumer idle): the sustained rate end to end.
// It also reports the CPU time each process used per event (the test
// process holds the clients and the NATS server) and each service's peak
// resident memory.
func BenchmarkSystem(b *testing.B) {
	s := start(b)
	events, _ := run(b.N, max(1, b.N/4))
	cpu := s.cpuTimes()
	b.ResetTimer()
	begin := time.Now()
	profiled := s.profile(b, 5*time.Second)
	s.send(events, 32, 10*time.Minute)
	sent := time.Since(begin)
	s.settle(10 * time.Minute)
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "events/s")
	// How long after the last event was stored the services took to catch
	// up: near zero when intake is the bottleneck, long when a stage lags.
	b.ReportMetric(time.Since(begin).Seconds()-sent.Seconds(), "drain-s")
	b.StopTimer()
	profiled.Wait()
	// CPU per event of each process: where the machine's two cores go,
	// which stays meaningful when the processes compete for them.
	for name, used := range s.cpuTimes() {
		b.ReportMetric(float64((used-cpu[name]).Microseconds())/float64(b.N), name+"-cpu-µs/event")
	}
	for _, name := range services {
		b.ReportMetric(float64(s.proc[name].PeakRSS())/(1<<20), name+"-MiB")
	}
}

// profileDir is where BenchmarkSystem writes a CPU profile of each service
// under load, when E2E_PROFILE names it (the NATS server runs in the test
// process: profile it with go test's -cpuprofile):
//
//	E2E_PROFILE=/tmp/prof go test -run '^$' -bench System -benchtime 20000x -cpuprofile /tmp/prof/test.pprof .
var profileDir = os.Getenv("E2E_PROFILE")

// profile takes a CPU profile of every service for the next d, in the
// background, when profiling is on.
func (s *system) profile(b *testing.B, d time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for name, addr := range s.pprof {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
			resp, err := http.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err == nil {
				err = os.WriteFile(filepath.Join(profileDir, name+".pprof"), data, 0o644)
			}
			if err != nil {
				b.Error(err)
			}
		})
	}
	return &wg
}

// BenchmarkRelay is the bare cost of the same three hops: b.N messages of
// the size of a feedback event, loaded into FEEDBACK, then relayed
// FEEDBACK → SCORED → CUSTOMERS → RECOVERY by three consumers that do no
// work (consume → publish → ack), on the same consumer loop as the
// services.
func BenchmarkRelay(b *testing.B) {
	ns := testkit.StartJetStream(b)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	cfg := bus.ConfigFromEnv(config.FromMap(nil))
	for _, st := range []bus.Stream{bus.FeedbackStream, bus.ScoredStream, bus.CustomersStream, bus.RecoveryStream} {
		if _, err := bus.EnsureStream(context.Background(), js, cfg, st); err != nil {
			b.Fatal(err)
		}
	}
	pub := bus.NewPublisher(js, "relay")
	events, _ := run(b.N, max(1, b.N/40))
	outs := make([]bus.Outgoing, 0, 1000)
	for i, e := range events {
		msg := e.feedback
		if msg == nil {
			msg = &intakev1.Feedback{EventId: e.purchase.GetEventId(), CustomerId: e.purchase.GetCustomerId()}
		}
		outs = append(outs, bus.Outgoing{Subject: "feedback.received.demo", ID: fmt.Sprint("demo/", i), Msg: &intakev1.SubmitFeedbackRequest{Feedback: msg}})
		if len(outs) == cap(outs) || i == len(events)-1 {
			if _, errs := pub.PublishAll(context.Background(), outs); errs[0] != nil {
				b.Fatal(errs[0])
			}
			outs = outs[:0]
		}
	}
	b.ResetTimer()
	begin := time.Now()
	hops := []struct {
		from bus.Stream
		to   string
	}{{bus.FeedbackStream, "feedback.scored.demo"}, {bus.ScoredStream, "customer.evaluated.demo"}, {bus.CustomersStream, "recovery.relay.demo"}}
	var idle []testkit.Durable
	for i, h := range hops {
		name := fmt.Sprint("relay", i+1)
		stop := testkit.RunRelay(b, js, cfg, bus.ConsumerSpec{Stream: h.from, Durable: name}, h.to)
		defer stop()
		idle = append(idle, testkit.Durable{Stream: h.from.Name, Name: name})
	}
	testkit.WaitIdle(b, js, 10*time.Minute, idle...)
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "events/s")
}

// BenchmarkLatency runs loadgen against the whole system at a steady rate
// (LATENCY_RATE events/s, default 2,000, in calls of LATENCY_BATCH events,
// default 100 — the calls of BenchmarkSystem, so that the latency is that
// of the sustained rate's traffic at half the rate: one call every 50 ms;
// 1 sends one event a call — for 20 s a run) and reports,
// from its JSON report, the latency from an event's submission to its case
// change reaching a WatchAlerts client, intake's own latency, the rate
// kept, where the time goes between the stages, each process's share of
// the cores, each service's peak memory, and how often Redis rewrote its
// append-only file. A first run of 5 s warms the system up and is not
// measured. The NATS server runs in the test process; -cpu 1 gives it one
// thread, as make run's nats-server has:
//
//	go test -run '^$' -bench Latency -benchtime 3x -cpu 1 .
func BenchmarkLatency(b *testing.B) {
	rate, batch := 2000.0, 100
	for name, v := range map[string]any{"LATENCY_RATE": &rate, "LATENCY_BATCH": &batch} {
		if s := os.Getenv(name); s != "" {
			if _, err := fmt.Sscan(s, v); err != nil {
				b.Fatalf("%s=%q: %v", name, s, err)
			}
		}
	}
	loadgen, err := testkit.BuildInto("../cmd/loadgen", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s := start(b)
	load := func(d time.Duration) *exec.Cmd {
		return exec.Command(loadgen, "--intake", s.addr["intake"], "--alerting", s.addr["alerting"], "--api-key", apiKey,
			"--e2e", "--rate", fmt.Sprint(rate), "--batch", fmt.Sprint(batch), "--duration", d.String(), "--invalid", "0", "--duplicates", "0",
			"--every", "0", "-o", "json")
	}
	// A first run warms the system up (connections, loaded scripts, grown
	// heaps, known customers) and is not measured: its first seconds are
	// slower than anything after.
	if out, err := load(5 * time.Second).Output(); err != nil {
		b.Fatalf("loadgen, warming up: %v\n%s", err, out)
	}
	// Each run starts on an idle system: a backlog left by the one before
	// would be measured as this run's latency.
	s.settle(time.Minute)
	var e2eP50, e2eP99, intakeP99, kept float64
	cpu := s.cpuTimes()
	rewrites := s.aofRewrites()
	var loadgenCPU time.Duration
	for range b.N {
		cmd := load(20 * time.Second)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("loadgen: %v\n%s", err, out)
		}
		loadgenCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		var report struct {
			AcceptedPerSecond float64               `json:"accepted_per_second"`
			Intake            struct{ P99 float64 } `json:"intake_latency_ms"`
			E2E               struct {
				Matched int64
				Latency struct{ P50, P99 float64 } `json:"latency_ms"`
			} `json:"e2e"`
		}
		if err := json.Unmarshal(out, &report); err != nil {
			b.Fatalf("loadgen's report: %v\n%s", err, out)
		}
		if report.E2E.Matched == 0 {
			b.Fatalf("no case change matched an event: %s", out)
		}
		s.settle(time.Minute)
		e2eP50 += report.E2E.Latency.P50 / float64(b.N)
		e2eP99 += report.E2E.Latency.P99 / float64(b.N)
		intakeP99 += report.Intake.P99 / float64(b.N)
		kept += report.AcceptedPerSecond / float64(b.N)
	}
	// The share of the machine's two cores each process used.
	elapsed := float64(b.N) * 20
	for name, used := range s.cpuTimes() {
		b.ReportMetric(100*(used-cpu[name]).Seconds()/elapsed, name+"-cpu-%")
	}
	b.ReportMetric(100*loadgenCPU.Seconds()/elapsed, "loadgen-cpu-%")
	for stage, d := range s.stageLatencies() {
		b.ReportMetric(d[0], stage+"-p50-ms")
		b.ReportMetric(d[1], stage+"-p99-ms")
	}
	// A run during which Redis rewrote its append-only file has a p99 of
	// several hundred ms on this machine (docs/performance.md).
	b.ReportMetric(float64(s.aofRewrites()-rewrites)/float64(b.N), "aof-rewrites/run")
	b.ReportMetric(e2eP50, "e2e-p50-ms")
	b.ReportMetric(e2eP99, "e2e-p99-ms")
	b.ReportMetric(intakeP99, "intake-p99-ms")
	b.ReportMetric(kept, "events/s")
	for _, name := range services {
		b.ReportMetric(float64(s.proc[name].PeakRSS())/(1<<20), name+"-MiB")
	}
}

// aofRewrites is how many times Redis has rewritten its append-only file.
func (s *system) aofRewrites() int {
	n, err := strconv.Atoi(s.redis.Info(s.t, "persistence")["aof_rewrites"])
	if err != nil {
		s.t.Fatalf("aof_rewrites in INFO persistence: %v", err)
	}
	return n
}

// stageLatencies says where the time goes between intake and alerting: how
// long scoring and segmentation each took to pass a feedback event on,
// from the times the NATS server stored it on FEEDBACK, SCORED and
// CUSTOMERS (all three messages carry the id "<tenant>/<event id>"), as p50
// and p99 in milliseconds.
func (s *system) stageLatencies() map[string][2]float64 {
	stored := func(stream string) map[string]time.Time {
		at := map[string]time.Time{}
		for _, m := range testkit.StreamMessages(s.t, s.js, stream) {
			at[m.Header.Get(jetstream.MsgIDHeader)] = m.Time
		}
		return at
	}
	feedback, scored, evaluated := stored("FEEDBACK"), stored("SCORED"), stored("CUSTOMERS")
	var scoring, segmentation []time.Duration
	for id, at := range scored {
		if in, ok := feedback[id]; ok {
			scoring = append(scoring, at.Sub(in))
		}
		if out, ok := evaluated[id]; ok {
			segmentation = append(segmentation, out.Sub(at))
		}
	}
	quantiles := func(ds []time.Duration) [2]float64 {
		if len(ds) == 0 {
			s.t.Fatal("no event passed the stage")
		}
		slices.Sort(ds)
		rank := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
		return [2]float64{rank(0.5), rank(0.99)}
	}
	return map[string][2]float64{"scoring": quantiles(scoring), "segmentation": quantiles(segmentation)}
}
