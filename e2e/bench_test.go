package e2e

import (
	"context"
	"fmt"
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
//	go test -run '^$' -bench 'System|Relay' -benchtime 40000x -count 3 . | tee system.txt; benchstat -col .name system.txt
//
// BenchmarkSystem sends b.N events (a fifth purchases) through intake's
// gRPC API as fast as 8 clients can, and times until all four services have
// handled everything (every consumer idle): the sustained rate end to end.
// It also reports each service's peak resident memory.
func BenchmarkSystem(b *testing.B) {
	s := start(b)
	events, _ := run(b.N, max(1, b.N/40))
	b.ResetTimer()
	begin := time.Now()
	s.send(events, 8, 10*time.Minute)
	s.settle(10 * time.Minute)
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "events/s")
	b.StopTimer()
	for _, name := range services {
		b.ReportMetric(float64(s.proc[name].PeakRSS())/(1<<20), name+"-MiB")
	}
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
