package pipeline

import (
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

// Input is what the scoring domain reads from a feedback event.
func Input(f *intakev1.Feedback) score.Input {
	in := score.Input{NPS: -1, CSAT: -1, CES: -1}
	if f.Nps != nil {
		in.NPS = int(*f.Nps)
	}
	if f.Csat != nil {
		in.CSAT = int(*f.Csat)
	}
	if f.Ces != nil {
		in.CES = int(*f.Ces)
	}
	sq := f.GetServqual()
	for d, r := range [score.NumDimensions]*intakev1.ServqualRating{
		score.Reliability: sq.GetReliability(), score.Responsiveness: sq.GetResponsiveness(),
		score.Assurance: sq.GetAssurance(), score.Empathy: sq.GetEmpathy(), score.Tangibles: sq.GetTangibles(),
	} {
		in.Servqual[d] = score.Rating{Expectation: int(r.GetExpectation()), Perception: int(r.GetPerception())}
	}
	in.Comment, in.Language = f.GetComment().GetText(), f.GetComment().GetLanguage()
	if c := f.GetComplaint(); c != nil {
		// The API's categories are the domain's, in the same order.
		in.Complaint = score.Category(c.GetCategory())
		if in.Complaint == score.NoComplaint || in.Complaint > score.OtherComplaint {
			in.Complaint = score.OtherComplaint
		}
	}
	return in
}

// Scores is the API form of a scoring result.
func Scores(r score.Result) *scoringv1.Scores {
	s := &scoringv1.Scores{
		// The API enums list the domain's values in the same order; the
		// severity enum has UNSPECIFIED before NONE.
		NpsClass:          scoringv1.NpsClass(r.NPSClass),
		ComplaintSeverity: scoringv1.ComplaintSeverity(r.Severity + 1),
		ExperienceScore:   r.Experience,
	}
	if r.HasCSAT {
		s.Csat = &r.CSAT
	}
	if r.HasCES {
		s.Ces = &r.CES
	}
	if g := r.Gaps; g.Any {
		s.Servqual = &scoringv1.ServqualGaps{Weighted: &g.Weighted}
		for d, field := range [score.NumDimensions]**float64{
			&s.Servqual.Reliability, &s.Servqual.Responsiveness, &s.Servqual.Assurance, &s.Servqual.Empathy, &s.Servqual.Tangibles,
		} {
			if g.Rated[d] {
				*field = &g.Dimension[d]
			}
		}
	}
	if r.HasSentiment {
		s.Sentiment = &scoringv1.Sentiment{Score: r.Sentiment.Score, Language: r.Sentiment.Language, Drivers: r.Sentiment.Drivers}
	}
	for _, c := range r.Contributions {
		s.Contributions = append(s.Contributions, &scoringv1.ScoreContribution{
			Signal: c.Signal, Value: c.Value, Weight: c.Weight, Points: c.Points,
		})
	}
	return s
}
