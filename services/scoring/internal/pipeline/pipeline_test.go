package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
	"github.com/feedloop/feedloop/services/scoring/internal/sentiment"
)

func TestInput(t *testing.T) {
	rating := func(e, p int32) *intakev1.ServqualRating {
		return &intakev1.ServqualRating{Expectation: e, Perception: p}
	}
	for _, tc := range []struct {
		name string
		in   *intakev1.Feedback
		want score.Input
	}{
		{"nothing given", &intakev1.Feedback{}, score.Input{NPS: -1, CSAT: -1, CES: -1}},
		{"NPS 0 is given, not missing", &intakev1.Feedback{Nps: proto.Int32(0)}, score.Input{NPS: 0, CSAT: -1, CES: -1}},
		{"scores, comment, complaint", &intakev1.Feedback{
			Nps: proto.Int32(10), Csat: proto.Int32(1), Ces: proto.Int32(7),
			Comment:   &intakev1.Comment{Text: "好", Language: "zh-CN"},
			Complaint: &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_PRIVACY},
		}, score.Input{NPS: 10, CSAT: 1, CES: 7, Comment: "好", Language: "zh-CN", Complaint: score.Privacy}},
		{"SERVQUAL, some dimensions", &intakev1.Feedback{Servqual: &intakev1.Servqual{Reliability: rating(7, 3), Tangibles: rating(2, 5)}},
			score.Input{NPS: -1, CSAT: -1, CES: -1, Servqual: [score.NumDimensions]score.Rating{
				score.Reliability: {Expectation: 7, Perception: 3}, score.Tangibles: {Expectation: 2, Perception: 5}}}},
		{"unknown complaint category", &intakev1.Feedback{Complaint: &intakev1.Complaint{Category: 42}},
			score.Input{NPS: -1, CSAT: -1, CES: -1, Complaint: score.OtherComplaint}},
	} {
		if got := Input(tc.in); got != tc.want {
			t.Errorf("%s: Input = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestScores(t *testing.T) {
	r := score.Result{
		NPSClass: score.Detractor, CSAT: 25, HasCSAT: true,
		Gaps:      score.Gaps{Dimension: [score.NumDimensions]float64{score.Empathy: -2}, Rated: [score.NumDimensions]bool{score.Empathy: true}, Weighted: -2, Any: true},
		Sentiment: score.Sentiment{Score: -0.5, Language: "en", Drivers: []string{"rude"}}, HasSentiment: true,
		Severity: score.SeverityCritical, Experience: 12.5,
		Contributions: []score.Contribution{{Signal: "csat", Value: 25, Weight: 0.5, Points: 12.5}},
	}
	want := &scoringv1.Scores{
		NpsClass: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, Csat: proto.Float64(25),
		Servqual:          &scoringv1.ServqualGaps{Empathy: proto.Float64(-2), Weighted: proto.Float64(-2)},
		Sentiment:         &scoringv1.Sentiment{Score: -0.5, Language: "en", Drivers: []string{"rude"}},
		ComplaintSeverity: scoringv1.ComplaintSeverity_COMPLAINT_SEVERITY_CRITICAL, ExperienceScore: 12.5,
		Contributions: []*scoringv1.ScoreContribution{{Signal: "csat", Value: 25, Weight: 0.5, Points: 12.5}},
	}
	if got := Scores(r); !proto.Equal(got, want) {
		t.Errorf("Scores = %v\nwant %v", got, want)
	}
	if got := Scores(score.Result{Severity: score.SeverityNone}); got.ComplaintSeverity != scoringv1.ComplaintSeverity_COMPLAINT_SEVERITY_NONE ||
		got.NpsClass != scoringv1.NpsClass_NPS_CLASS_UNSPECIFIED || got.Csat != nil || got.Servqual != nil || got.Sentiment != nil {
		t.Errorf("empty result = %v", got)
	}
}

// BenchmarkDomain is the scoring domain per event, on a realistic mix
// (about half with a comment, English and Chinese): read the event, score
// it with the lexicon sentiment, and build its counters and API scores. Run
// it on one core:
//
//	go test -run '^$' -bench Domain -cpu 1 -count 5 ./internal/pipeline
func BenchmarkDomain(b *testing.B) {
	lexicon, err := sentiment.New()
	if err != nil {
		b.Fatal(err)
	}
	scorer := score.New(score.DefaultConfig(), lexicon)
	comments := []string{
		"The courier was rude and the parcel arrived two days late.",
		"Great service, the staff were friendly and the room was spotless!",
		"Not bad, but the checkout took far too long.",
		"房间很干净，服务态度也非常好，下次还会再来。",
		"送货太慢了，客服也不回复，非常失望。",
		"还行吧，价格有点贵。",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	events := make([]*intakev1.Feedback, 1000)
	for i := range events {
		f := &intakev1.Feedback{EventId: fmt.Sprint(i), Nps: proto.Int32(int32(rng.IntN(11)))}
		if rng.IntN(2) == 0 {
			f.Csat = proto.Int32(int32(1 + rng.IntN(5)))
		}
		if rng.IntN(2) == 0 {
			f.Comment = &intakev1.Comment{Text: comments[rng.IntN(len(comments))]}
		}
		if rng.IntN(5) == 0 {
			f.Servqual = &intakev1.Servqual{Reliability: &intakev1.ServqualRating{Expectation: 6, Perception: int32(1 + rng.IntN(7))}}
		}
		if rng.IntN(8) == 0 {
			f.Complaint = &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY}
		}
		events[i] = f
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in := Input(events[i%len(events)])
		r := scorer.Score(in)
		_ = rollup.Event(in, r)
		_ = Scores(r)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
