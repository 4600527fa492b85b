package segment_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

// BenchmarkUpdate is the domain's work per event, as the pipeline does it:
// decode the stored record, apply the event, evaluate the profile and the
// tier rules (CEL), encode the record; /with-proto adds building the
// profile CustomerEvaluated carries. One core:
//
//	go test -run '^$' -bench Update -cpu 1 -count 6 ./internal/segment
func BenchmarkUpdate(b *testing.B) {
	rules, err := tiers.Default()
	if err != nil {
		b.Fatal(err)
	}
	eval := segment.NewEvaluator(profile.Configs{Default: profile.Default()}, rules)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	// 1,000 customers with a year of history each.
	blobs := make([][]byte, 1000)
	for i := range blobs {
		var r segment.Record
		for j := range 5 + rng.IntN(30) {
			r.State.Apply(randomEvent(rng, fmt.Sprint(j), now))
		}
		r, _, _ = eval.Reevaluate("t", r, now, "seed")
		blobs[i], _ = r.MarshalBinary()
	}
	events := make([]profile.Event, 4096)
	for i := range events {
		events[i] = randomEvent(rng, fmt.Sprint("new-", i), now)
	}
	for _, withProto := range []bool{false, true} {
		name := "profile+tier"
		if withProto {
			name = "with-proto"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var r segment.Record
				if err := r.UnmarshalBinary(blobs[i%len(blobs)]); err != nil {
					b.Fatal(err)
				}
				r.State.Apply(events[i%len(events)])
				r, ev, _ := eval.Reevaluate("t", r, now, "e")
				if withProto {
					_ = segment.Proto("c", &r, ev)
				}
				if _, err := r.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func randomEvent(rng *rand.Rand, id string, now time.Time) profile.Event {
	e := profile.Event{ID: id, At: now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))}
	if rng.IntN(2) == 0 {
		e.Purchase = &profile.Money{Amount: rng.Int64N(20_000), Currency: "USD"}
		return e
	}
	e.Feedback, e.NPS, e.Complaint = true, profile.NPS(rng.IntN(4)), rng.IntN(5) == 0
	e.Satisfaction, e.Trend, e.Rated = rng.Float64()*100, rng.Float64()*20-10, 1+rng.Int64N(20)
	return e
}
