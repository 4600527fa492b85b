package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// The pipeline benchmarks load b.N events into FEEDBACK, then time how long
// it takes until all of them are on SCORED: BenchmarkPipeline through the
// scoring service (consume → score → Lua → publish → ack), BenchmarkRelay
// through a bare relay on the same consumer loop (consume → publish → ack).
// Run both in one go and compare events/s:
//
//	go test -run '^$' -bench 'Pipeline|Relay' -benchtime 20000x -count 5 ./internal/app | tee e2e.txt; benchstat -col /name e2e.txt

func load(b *testing.B, h *harness, spread time.Duration) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	now := time.Now()
	outs := make([]bus.Outgoing, b.N)
	for i := range outs {
		outs[i] = received("tenant-a", randomFeedback(rng, fmt.Sprint("ev-", i), now, spread))
	}
	h.publish(b, outs...)
}

// waitScored polls SCORED until it holds n messages and returns the rate
// since start.
func waitScored(b *testing.B, h *harness, n int, start time.Time) {
	b.Helper()
	ctx := context.Background()
	deadline := start.Add(5 * time.Minute)
	for {
		st, err := h.js.Stream(ctx, "SCORED")
		if err == nil {
			if info, err := st.Info(ctx); err == nil && info.State.Msgs >= uint64(n) {
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("events were not all relayed within 5 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkPipeline/live is feedback as it arrives, given within the last
// hour; /backfill is feedback spread over 30 days (an import), whose bucket
// updates cannot be summed within a batch.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct {
		name   string
		spread time.Duration
	}{{"live", time.Hour}, {"backfill", 30 * 24 * time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			h := deps(b)
			load(b, h, bc.spread)
			b.ResetTimer()
			start := time.Now()
			h.run(b)
			waitScored(b, h, b.N, start)
		})
	}
}

func BenchmarkRelay(b *testing.B) {
	h := deps(b)
	load(b, h, time.Hour)
	if _, err := bus.EnsureStream(context.Background(), h.js, h.cfg.Bus, bus.ScoredStream); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	stop := testkit.RunRelay(b, h.js, h.cfg.Bus, bus.ConsumerSpec{Stream: bus.FeedbackStream, Durable: "relay"}, "feedback.scored.tenant-a")
	waitScored(b, h, b.N, start)
	stop()
}

// BenchmarkExperienceReport asks for 30-day reports over 30 days of hourly
// buckets (3 channels × 4 touchpoints each hour) through gRPC, and reports
// the latency percentiles of each kind of report.
func BenchmarkExperienceReport(b *testing.B) {
	h := start(b)
	ctx := context.Background()
	st := store.New(h.redis.Client, h.cfg.Store)
	now := time.Now()
	rng := rand.New(rand.NewPCG(5, 5))
	scorer := score.New(score.DefaultConfig(), nil)
	var ups []store.Update
	for hour := range 30 * 24 {
		for g := range 12 {
			in := score.Input{NPS: rng.IntN(11), CSAT: 1 + rng.IntN(5), CES: -1,
				Servqual: [score.NumDimensions]score.Rating{score.Reliability: {Expectation: 6, Perception: 1 + rng.IntN(7)}}}
			res := scorer.Score(in)
			ups = append(ups, store.Update{
				Tenant: "tenant-a", Customer: fmt.Sprint("c", rng.IntN(1000)), EventID: fmt.Sprint(hour, "-", g),
				At: now.Add(-time.Duration(hour) * time.Hour), Group: store.Group{Channel: int32(1 + g%3), Touchpoint: fmt.Sprint("tp", g/3)},
				Experience: res.Experience, NPSClass: res.NPSClass, Counts: rollup.Event(in, res),
			})
		}
	}
	for i := 0; i < len(ups); i += 500 {
		if _, errs := st.Apply(ctx, ups[i:min(i+500, len(ups))]); errs[0] != nil {
			b.Fatal(errs[0])
		}
	}
	window := func(r *scoringv1.GetExperienceReportRequest) *scoringv1.GetExperienceReportRequest {
		r.StartTime, r.EndTime = timestamppb.New(now.Add(-30*24*time.Hour)), timestamppb.New(now)
		return r
	}
	for _, bc := range []struct {
		name string
		req  *scoringv1.GetExperienceReportRequest
	}{
		{"total", window(&scoringv1.GetExperienceReportRequest{})},
		{"hourly-rows", window(&scoringv1.GetExperienceReportRequest{Granularity: scoringv1.Granularity_GRANULARITY_HOUR})},
		{"daily-by-touchpoint", window(&scoringv1.GetExperienceReportRequest{Granularity: scoringv1.Granularity_GRANULARITY_DAY, GroupByTouchpoint: true})},
		{"hourly-by-touchpoint", window(&scoringv1.GetExperienceReportRequest{Granularity: scoringv1.Granularity_GRANULARITY_HOUR, GroupByTouchpoint: true})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				resp, err := h.client.GetExperienceReport(testkit.WithKey(keyA), bc.req)
				lat = append(lat, time.Since(t0))
				if err != nil || resp.Total.Responses < 30*24*12-12 {
					b.Fatalf("report: %v responses, %v", resp.GetTotal().GetResponses(), err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
