package app_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The benchmarks run client, intake, NATS (embedded) and Redis on one
// machine, as the issue asks. Compare SubmitFeedbackBatch's events/s with
// BarePublishAsync's, measured in the same run:
//
//	go test -run '^$' -bench . -benchtime 20000x -count 5 ./internal/app | tee new.txt; benchstat new.txt

var seq atomic.Int64

// uniqueFeedback is a realistic event with a client-chosen id, so every call
// also pays the Redis id check and record.
func uniqueFeedback() *intakev1.Feedback {
	fb := feedback(fmt.Sprintf("bench-%d", seq.Add(1)))
	fb.Csat = proto.Int32(2)
	fb.Servqual = &intakev1.Servqual{Reliability: &intakev1.ServqualRating{Expectation: 7, Perception: 3}}
	return fb
}

// BenchmarkBarePublishAsync is the ceiling: JetStream async publishes of the
// same payload, no gRPC, no validation, no Redis.
func BenchmarkBarePublishAsync(b *testing.B) {
	h := start(b)
	data, _ := proto.Marshal(&eventsv1.FeedbackReceived{TenantId: "tenant-a", Feedback: uniqueFeedback(), ReceivedAt: timestamppb.Now()})
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		msg := &nats.Msg{Subject: "feedback.received.tenant-a", Data: data, Header: nats.Header{"Nats-Msg-Id": {fmt.Sprint("bare-", i)}}}
		if _, err := h.js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-h.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("acks did not arrive")
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSubmitFeedbackBatch sends batches of 100 events from 4 concurrent
// callers; b.N counts events.
func BenchmarkSubmitFeedbackBatch(b *testing.B) {
	h := start(b)
	const size, callers = 100, 4
	calls := (b.N + size - 1) / size
	reqs := make([]*intakev1.SubmitFeedbackBatchRequest, calls)
	for i := range reqs {
		reqs[i] = &intakev1.SubmitFeedbackBatchRequest{}
		for range size {
			reqs[i].Items = append(reqs[i].Items, uniqueFeedback())
		}
	}
	ctx := testkit.WithKey(keyA)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(calls) {
					return
				}
				resp, err := h.client.SubmitFeedbackBatch(ctx, reqs[i])
				if err != nil || resp.AcceptedCount != size {
					b.Errorf("batch: %v (accepted %d)", err, resp.GetAcceptedCount())
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(calls*size)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSubmitFeedback sends single events from 8 concurrent callers and
// reports the latency percentiles.
func BenchmarkSubmitFeedback(b *testing.B) {
	h := start(b)
	const callers = 8
	reqs := make([]*intakev1.SubmitFeedbackRequest, b.N)
	for i := range reqs {
		reqs[i] = &intakev1.SubmitFeedbackRequest{Feedback: uniqueFeedback()}
	}
	lat := make([]time.Duration, b.N)
	ctx := testkit.WithKey(keyA)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := h.client.SubmitFeedback(ctx, reqs[i]); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
