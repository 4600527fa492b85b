package app_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

// bruteForce summarises events straight from their raw answers and scores,
// without the buckets, the counters or the report code.
func bruteForce(events []*eventsv1.FeedbackScored) *scoringv1.ExperienceSummary {
	s := &scoringv1.ExperienceSummary{Responses: int64(len(events))}
	var csat, ces, sent, exp mean
	var gaps [5]mean
	for _, e := range events {
		f := e.Received.Feedback
		if f.Nps != nil {
			switch n := *f.Nps; {
			case n >= 9:
				s.Promoters++
			case n >= 7:
				s.Passives++
			default:
				s.Detractors++
			}
		}
		if f.Csat != nil {
			csat.add(float64(*f.Csat-1) / 4 * 100)
		}
		if f.Ces != nil {
			ces.add(float64(7-*f.Ces) / 6 * 100)
		}
		for d, r := range []*intakev1.ServqualRating{f.GetServqual().GetReliability(), f.GetServqual().GetResponsiveness(),
			f.GetServqual().GetAssurance(), f.GetServqual().GetEmpathy(), f.GetServqual().GetTangibles()} {
			if r != nil {
				gaps[d].add(float64(r.Perception - r.Expectation))
			}
		}
		if e.Scores.Sentiment != nil {
			sent.add(e.Scores.Sentiment.Score)
		}
		if f.Complaint != nil {
			s.Complaints++
		}
		exp.add(e.Scores.ExperienceScore)
	}
	if n := float64(s.Promoters + s.Passives + s.Detractors); n > 0 {
		p, d := float64(s.Promoters)/n, float64(s.Detractors)/n
		nps, moe := (p-d)*100, 1.96*math.Sqrt((p+d-(p-d)*(p-d))/n)*100
		s.Nps, s.NpsMarginOfError = &nps, &moe
	}
	s.Csat, s.Ces, s.Sentiment, s.ExperienceScore = csat.get(), ces.get(), sent.get(), exp.get()
	if s.Responses > 0 {
		s.ComplaintRate = float64(s.Complaints) / float64(s.Responses)
	}
	weights := score.DefaultConfig().Servqual
	var wsum, wgap float64
	lowest := math.Inf(1)
	for d, g := range gaps {
		if v := g.get(); v != nil {
			wsum += weights[d]
			wgap += weights[d] * *v
			if *v < lowest {
				lowest, s.WeakestDimension = *v, score.Dimension(d).String()
			}
		}
	}
	if wsum > 0 {
		w := wgap / wsum
		s.Servqual = &scoringv1.ServqualGaps{Weighted: &w,
			Reliability: gaps[0].get(), Responsiveness: gaps[1].get(), Assurance: gaps[2].get(), Empathy: gaps[3].get(), Tangibles: gaps[4].get()}
	}
	return s
}

type mean struct{ sum, n float64 }

func (m *mean) add(v float64) { m.sum += v; m.n++ }
func (m *mean) get() *float64 {
	if m.n == 0 {
		return nil
	}
	v := m.sum / m.n
	return &v
}

func checkSummary(t *testing.T, name string, got, want *scoringv1.ExperienceSummary) {
	t.Helper()
	if got.Responses != want.Responses || got.Promoters != want.Promoters || got.Passives != want.Passives ||
		got.Detractors != want.Detractors || got.Complaints != want.Complaints || got.WeakestDimension != want.WeakestDimension {
		t.Errorf("%s: counts\n got %v\nwant %v", name, got, want)
		return
	}
	opt := func(field string, g, w *float64, tol float64) {
		if (g == nil) != (w == nil) || (g != nil && math.Abs(*g-*w) > tol) {
			t.Errorf("%s: %s = %v, want %v", name, field, fmtp(g), fmtp(w))
		}
	}
	opt("nps", got.Nps, want.Nps, 1e-9)
	opt("nps margin", got.NpsMarginOfError, want.NpsMarginOfError, 1e-9)
	opt("csat", got.Csat, want.Csat, 1e-9)
	opt("ces", got.Ces, want.Ces, 1e-9)
	opt("sentiment", got.Sentiment, want.Sentiment, 1e-4) // summed at 4 decimals
	opt("experience", got.ExperienceScore, want.ExperienceScore, 1e-9)
	rate := got.ComplaintRate
	opt("complaint rate", &rate, &want.ComplaintRate, 1e-12)
	g, w := got.GetServqual(), want.GetServqual()
	if (g == nil) != (w == nil) {
		t.Errorf("%s: servqual %v, want %v", name, g, w)
	}
	if g == nil || w == nil {
		return
	}
	opt("reliability", g.Reliability, w.Reliability, 1e-9)
	opt("responsiveness", g.Responsiveness, w.Responsiveness, 1e-9)
	opt("assurance", g.Assurance, w.Assurance, 1e-9)
	opt("empathy", g.Empathy, w.Empathy, 1e-9)
	opt("tangibles", g.Tangibles, w.Tangibles, 1e-9)
	opt("weighted gap", g.Weighted, w.Weighted, 1e-9)
}

func fmtp(p *float64) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func TestReportEqualsBruteForce(t *testing.T) {
	h := start(t)
	now := time.Now()
	rng := rand.New(rand.NewPCG(7, 11))
	var outs []bus.Outgoing
	for i := range 600 {
		tenant := "tenant-a"
		if i%5 == 0 {
			tenant = "tenant-b"
		}
		outs = append(outs, received(tenant, randomFeedback(rng, fmt.Sprint("ev-", i), now, 30*24*time.Hour)))
	}
	h.publish(t, outs...)
	all, _ := h.scored(t, len(outs))

	// An event is in [start, end) when its hour starts there.
	in := func(start, end time.Time) func(*eventsv1.FeedbackScored) bool {
		return func(e *eventsv1.FeedbackScored) bool {
			hour := e.Received.Feedback.OccurredAt.AsTime().Truncate(time.Hour)
			return !hour.Before(start.Truncate(time.Hour)) && hour.Before(end)
		}
	}
	pick := func(tenant string, keep ...func(*eventsv1.FeedbackScored) bool) []*eventsv1.FeedbackScored {
		var out []*eventsv1.FeedbackScored
	next:
		for _, e := range all {
			if e.Received.TenantId != tenant {
				continue
			}
			for _, k := range keep {
				if !k(e) {
					continue next
				}
			}
			out = append(out, e)
		}
		return out
	}
	ts := timestamppb.New
	midnight := now.Truncate(24 * time.Hour)
	wide := in(now.Add(-31*24*time.Hour), now.Add(time.Hour))
	oddStart, oddEnd := now.Add(-17*24*time.Hour-5*time.Hour-30*time.Minute), now.Add(-7*24*time.Hour+13*time.Minute)
	byChannel := func(e *eventsv1.FeedbackScored) bool {
		return e.Received.Feedback.Channel == intakev1.Channel_CHANNEL_APP
	}
	byTouchpoint := func(e *eventsv1.FeedbackScored) bool { return e.Received.Feedback.Touchpoint == "delivery" }

	for _, tc := range []struct {
		name string
		key  string
		req  *scoringv1.GetExperienceReportRequest
		want []*eventsv1.FeedbackScored
	}{
		{"30 days, tenant a", keyA, &scoringv1.GetExperienceReportRequest{StartTime: ts(now.Add(-31 * 24 * time.Hour)), EndTime: ts(now.Add(time.Hour))}, pick("tenant-a", wide)},
		{"30 days, tenant b", keyB, &scoringv1.GetExperienceReportRequest{StartTime: ts(now.Add(-31 * 24 * time.Hour)), EndTime: ts(now.Add(time.Hour))}, pick("tenant-b", wide)},
		{"unaligned 10 days", keyA, &scoringv1.GetExperienceReportRequest{StartTime: ts(oddStart), EndTime: ts(oddEnd)}, pick("tenant-a", in(oddStart, oddEnd))},
		{"unaligned, app channel, delivery", keyA, &scoringv1.GetExperienceReportRequest{StartTime: ts(oddStart), EndTime: ts(oddEnd),
			Channel: intakev1.Channel_CHANNEL_APP, Touchpoint: "delivery"}, pick("tenant-a", in(oddStart, oddEnd), byChannel, byTouchpoint)},
		{"default window: the last 7 days", keyA, &scoringv1.GetExperienceReportRequest{}, pick("tenant-a", in(now.Add(-7*24*time.Hour), now))},
		{"empty window", keyA, &scoringv1.GetExperienceReportRequest{StartTime: ts(midnight.Add(-90 * 24 * time.Hour)), EndTime: ts(midnight.Add(-80 * 24 * time.Hour))}, nil},
	} {
		got, err := h.client.GetExperienceReport(testkit.WithKey(tc.key), tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(tc.want) == 0 && tc.name != "empty window" {
			t.Fatalf("%s: the test data has no events here", tc.name)
		}
		checkSummary(t, tc.name, got.Total, bruteForce(tc.want))
		if len(got.Rows) != 0 {
			t.Errorf("%s: %d rows without a granularity or grouping", tc.name, len(got.Rows))
		}
	}

	t.Run("rows by day and touchpoint", func(t *testing.T) {
		start, end := now.Add(-10*24*time.Hour), now
		got, err := h.client.GetExperienceReport(testkit.WithKey(keyA), &scoringv1.GetExperienceReportRequest{
			StartTime: ts(start), EndTime: ts(end), Granularity: scoringv1.Granularity_GRANULARITY_DAY, GroupByTouchpoint: true})
		if err != nil {
			t.Fatal(err)
		}
		var responses int64
		for _, row := range got.Rows {
			day := row.BucketStart.AsTime()
			want := pick("tenant-a", in(day, day.Add(24*time.Hour)), func(e *eventsv1.FeedbackScored) bool {
				return e.Received.Feedback.Touchpoint == row.Touchpoint
			})
			checkSummary(t, fmt.Sprintf("%s %q", day.Format(time.DateOnly), row.Touchpoint), row.Summary, bruteForce(want))
			responses += row.Summary.Responses
		}
		// Day rows widen the start to its day.
		if want := len(pick("tenant-a", in(start.Truncate(24*time.Hour), end))); responses != int64(want) || got.Total.Responses != int64(want) {
			t.Errorf("rows hold %d responses, total %d, want %d", responses, got.Total.Responses, want)
		}
	})

	t.Run("day rows count whole days", func(t *testing.T) {
		day := now.Truncate(24 * time.Hour).Add(-9 * 24 * time.Hour)
		start, end := day.Add(10*time.Hour), day.Add(2*24*time.Hour+6*time.Hour)
		got, err := h.client.GetExperienceReport(testkit.WithKey(keyA), &scoringv1.GetExperienceReportRequest{
			StartTime: ts(start), EndTime: ts(end), Granularity: scoringv1.Granularity_GRANULARITY_DAY})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != 3 || !got.Rows[0].BucketStart.AsTime().Equal(day) {
			t.Fatalf("rows %v, want 3 days from %s", got.Rows, day)
		}
		checkSummary(t, "3 whole days", got.Total, bruteForce(pick("tenant-a", in(day, day.Add(3*24*time.Hour)))))
	})

	t.Run("rows by hour, every hour", func(t *testing.T) {
		start, end := now.Add(-48*time.Hour), now
		got, err := h.client.GetExperienceReport(testkit.WithKey(keyA), &scoringv1.GetExperienceReportRequest{
			StartTime: ts(start), EndTime: ts(end), Granularity: scoringv1.Granularity_GRANULARITY_HOUR})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != 49 { // from the hour holding start to the one holding end
			t.Fatalf("%d rows, want 49", len(got.Rows))
		}
		for _, row := range got.Rows {
			hour := row.BucketStart.AsTime()
			checkSummary(t, hour.Format(time.DateTime), row.Summary, bruteForce(pick("tenant-a", in(hour, hour.Add(time.Hour)))))
		}
	})

	t.Run("invalid windows", func(t *testing.T) {
		for name, req := range map[string]*scoringv1.GetExperienceReportRequest{
			"start after end":      {StartTime: ts(now), EndTime: ts(now.Add(-time.Hour))},
			"too many buckets":     {StartTime: ts(now.Add(-90 * 24 * time.Hour)), Granularity: scoringv1.Granularity_GRANULARITY_HOUR},
			"undefined channel":    {Channel: 99},
			"hours past retention": {StartTime: ts(now.Add(-40 * 24 * time.Hour)), EndTime: ts(now.Add(-38 * 24 * time.Hour))},
		} {
			if _, err := h.client.GetExperienceReport(testkit.WithKey(keyA), req); status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v, want InvalidArgument", name, err)
			}
		}
	})
}
