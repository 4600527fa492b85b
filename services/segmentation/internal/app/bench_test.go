package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/segmentation/internal/pipeline"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
)

// The pipeline benchmarks load b.N events, then time how long the
// consumers take to acknowledge all of them: BenchmarkPipeline through the
// segmentation service (consume → load → profile, CEL tier → commit script
// → publish CustomerEvaluated and TierChanged → ack), BenchmarkRelay
// through a bare relay on the same consumer loop (consume → publish →
// ack). Run both in one go and compare events/s:
//
//	go test -run '^$' -bench 'Pipeline|Relay' -benchtime 20000x -count 5 ./internal/app | tee e2e.txt; benchstat -col /name e2e.txt

// traffic is n events of customers of a population of n/4: scored
// feedback, or (mixed) half purchases, as live traffic within the last day.
func traffic(n int, mixed bool) []bus.Outgoing {
	rng := rand.New(rand.NewPCG(1, 1))
	outs := make([]bus.Outgoing, n)
	for i := range outs {
		customer := fmt.Sprint("c", rng.IntN(max(1, n/4)))
		at := t0.Add(-time.Duration(rng.Int64N(int64(day))))
		id := fmt.Sprint("ev-", i)
		if mixed && i%2 == 0 {
			outs[i] = purchase("tenant-a", customer, id, at, rng.Int64N(20_000), "USD")
			continue
		}
		outs[i] = feedback{tenant: "tenant-a", customer: customer, id: id, at: at, nps: scoringv1.NpsClass(rng.IntN(4)),
			complaint: rng.IntN(10) == 0, satisfaction: rng.Float64() * 100, trend: rng.Float64()*10 - 5, rated: 1 + rng.Int64N(5)}.out()
	}
	return outs
}

// idleRate waits until the durable consumers have no message pending or
// unacknowledged and reports the rate since start.
func idleRate(b *testing.B, h *harness, start time.Time, consumers ...testkit.Durable) {
	b.Helper()
	testkit.WaitIdle(b, h.js, 5*time.Minute, consumers...)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkPipeline(b *testing.B) {
	for _, mixed := range []bool{false, true} {
		name := "feedback"
		if mixed {
			name = "mixed"
		}
		b.Run(name, func(b *testing.B) {
			h := start(b)
			h.stop() // loaded first, then timed from the start of a fresh service
			h.publish(b, traffic(b.N, mixed)...)
			b.ResetTimer()
			start := time.Now()
			h.run(b)
			consumers := []testkit.Durable{{Stream: "SCORED", Name: "segmentation"}}
			if mixed {
				consumers = append(consumers, testkit.Durable{Stream: "FEEDBACK", Name: "segmentation-activity"})
			}
			idleRate(b, h, start, consumers...)
		})
	}
}

func BenchmarkRelay(b *testing.B) {
	h := start(b)
	h.stop()
	h.publish(b, traffic(b.N, false)...)
	b.ResetTimer()
	start := time.Now()
	stop := testkit.RunRelay(b, h.js, h.cfg.Bus, bus.ConsumerSpec{Stream: bus.ScoredStream, Durable: "relay"}, "customer.evaluated.tenant-a")
	idleRate(b, h, start, testkit.Durable{Stream: "SCORED", Name: "relay"})
	stop()
}

// BenchmarkGetCustomer reads random customers of about 10,000 through gRPC and
// reports the latency percentiles:
//
//	go test -run '^$' -bench GetCustomer -benchtime 20000x ./internal/app
func BenchmarkGetCustomer(b *testing.B) {
	h := start(b)
	outs := traffic(40_000, true)
	h.publish(b, outs...)
	h.waitIdle(b)
	var ids []string
	for _, o := range outs {
		switch m := o.Msg.(type) {
		case *eventsv1.ActivityReceived:
			ids = append(ids, m.GetActivity().GetCustomerId())
		case *eventsv1.FeedbackScored:
			ids = append(ids, m.GetReceived().GetFeedback().GetCustomerId())
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	ctx := testkit.WithKey(keyA)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t := time.Now()
		if _, err := h.client.GetCustomer(ctx, &segmentationv1.GetCustomerRequest{CustomerId: ids[rng.IntN(len(ids))]}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSweep sweeps a tenant of 100,000 or 1,000,000 customers, every
// one of them due, and reports customers/s and the most heap the process
// held above what was live before (the embedded nats-server's included):
// bounded by the batch size, not by the number of customers.
//
//	go test -run '^$' -bench Sweep -benchtime 1x -timeout 60m ./internal/app
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := start(b)
			h.stop()
			ctx := context.Background()
			st := store.New(h.redis.Client, h.cfg.GuardTTL)
			eval := segment.NewEvaluator(h.cfg.Profiles, h.cfg.Rules)
			rng := rand.New(rand.NewPCG(3, 3))
			for lo := 0; lo < n; lo += 1000 {
				writes := make([]store.Write, 0, 1000)
				for i := lo; i < min(n, lo+1000); i++ {
					var r segment.Record
					for j := range 3 {
						r.State.Apply(profile.Event{ID: fmt.Sprint(j), At: t0.Add(-time.Duration(rng.Int64N(int64(300 * day)))),
							Purchase: &profile.Money{Amount: rng.Int64N(50_000), Currency: "USD"}})
					}
					r, _, _ = eval.Reevaluate("tenant-a", r, t0, "seed")
					r = eval.Published("tenant-a", r, t0) // evaluated and announced before
					writes = append(writes, store.Write{Customer: fmt.Sprint("c", i), Loaded: &store.Loaded{}, New: &r, Now: t0})
				}
				if _, err := st.Commit(ctx, "tenant-a", writes); err != nil {
					b.Fatal(err)
				}
			}
			later := func() time.Time { return t0.Add(2 * day) } // every customer is due
			sw := pipeline.NewSweeper(pipeline.SweepConfig{Interval: time.Hour, Batch: 500, PerTick: n}, eval, st,
				bus.NewPublisher(h.js, "bench"), later, "bench", discard())
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			peak := base.HeapAlloc
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // sample the heap while the sweep runs
				defer close(sampled)
				var m runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
						runtime.ReadMemStats(&m)
						peak = max(peak, m.HeapAlloc)
					}
				}
			}()
			b.ResetTimer()
			start := time.Now()
			swept, err := sw.Tick(ctx)
			elapsed := time.Since(start)
			close(stop)
			<-sampled
			if err != nil || swept != n {
				b.Fatalf("swept %d of %d: %v", swept, n, err)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "customers/s")
			b.ReportMetric(float64(peak-base.HeapAlloc)/(1<<20), "peak-heap-MiB")
		})
	}
}
