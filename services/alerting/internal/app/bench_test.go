package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// The pipeline benchmarks load b.N evaluated events, then time how long the
// service takes to acknowledge all of them: BenchmarkPipeline through
// alerting (consume → rules → read cases → decide → commit → publish
// changes → ack, and the dispatcher routing each change), BenchmarkRelay
// through a bare relay on the same consumer loop (consume → publish →
// ack). Run both in one go and compare events/s:
//
//	go test -run '^$' -bench 'Pipeline|Relay' -benchtime 20000x -count 5 ./internal/app | tee e2e.txt; benchstat -col /name e2e.txt

// traffic is n evaluated events of customers of a population of n/4, of
// which about 1 in 20 matches a rule (a high-value detractor, opening or
// updating its customer's case) and the rest are low-value promoters.
func traffic(n int) []bus.Outgoing {
	rng := rand.New(rand.NewPCG(1, 1))
	outs := make([]bus.Outgoing, n)
	for i := range outs {
		customer := fmt.Sprint("c", rng.IntN(max(1, n/4)))
		id := fmt.Sprint("ev-", i)
		if rng.IntN(20) == 0 {
			outs[i] = evaluated(customer, id, segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false)
		} else {
			outs[i] = evaluated(customer, id, segmentationv1.ValueLevel_VALUE_LEVEL_LOW, 10, false)
		}
	}
	return outs
}

func BenchmarkPipeline(b *testing.B) {
	h := start(b)
	h.stop() // loaded first, then timed from the start of a fresh service
	h.publish(b, traffic(b.N)...)
	b.ResetTimer()
	start := time.Now()
	h.run(b)
	testkit.WaitIdle(b, h.js, 5*time.Minute, testkit.Durable{Stream: "CUSTOMERS", Name: "alerting"}, testkit.Durable{Stream: "RECOVERY", Name: "alerting-dispatch"})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	var changes int
	if st, err := h.js.Stream(context.Background(), "RECOVERY"); err == nil {
		info, _ := st.Info(context.Background())
		changes = int(info.State.Msgs)
	}
	b.ReportMetric(100*float64(changes)/float64(b.N), "%changes")
}

func BenchmarkRelay(b *testing.B) {
	h := start(b)
	h.stop()
	h.publish(b, traffic(b.N)...)
	b.ResetTimer()
	start := time.Now()
	stop := testkit.RunRelay(b, h.js, h.cfg.Bus, bus.ConsumerSpec{Stream: bus.CustomersStream, Durable: "relay"}, "recovery.relay.tenant-a")
	testkit.WaitIdle(b, h.js, 5*time.Minute, testkit.Durable{Stream: "CUSTOMERS", Name: "relay"})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	stop()
}

// BenchmarkWatchLatency publishes b.N evaluated events at 1,000 a second,
// each a high-value detractor of its own customer (so each opens a case),
// and measures from the publish of the event to a WatchAlerts client
// receiving its case:
//
//	go test -run '^$' -bench WatchLatency -benchtime 10000x ./internal/app
func BenchmarkWatchLatency(b *testing.B) {
	h := start(b)
	ctx, cancel := context.WithCancel(testkit.WithKey(keyA))
	defer cancel()
	stream, err := h.client.WatchAlerts(ctx, &alertingv1.WatchAlertsRequest{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // the watch is subscribed
		b.Fatal(err)
	}
	var mu sync.Mutex
	sent := make(map[string]time.Time, b.N)
	latencies := make([]time.Duration, 0, b.N)
	received := make(chan struct{})
	go func() {
		defer close(received)
		for len(latencies) < b.N {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			now := time.Now()
			mu.Lock()
			if at, ok := sent[r.GetCase().GetFirstEventId()]; ok && r.GetType() == alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED {
				latencies = append(latencies, now.Sub(at))
			}
			mu.Unlock()
		}
	}()
	pub := bus.NewPublisher(h.js, "feedloop/segmentation")
	const rate = 1000
	b.ResetTimer()
	begin := time.Now()
	for i := range b.N {
		due := begin.Add(time.Duration(i) * time.Second / rate)
		time.Sleep(time.Until(due))
		out := evaluated(fmt.Sprint("w", i), fmt.Sprint("w-", i), segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false)
		mu.Lock()
		sent[out.Msg.(*eventsv1.CustomerEvaluated).GetFeedback().GetReceived().GetFeedback().GetEventId()] = time.Now()
		mu.Unlock()
		if _, err := pub.Publish(context.Background(), out); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-received:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d cases seen on the watch within a minute", len(latencies), b.N)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
