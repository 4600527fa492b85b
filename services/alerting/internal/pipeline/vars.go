// Package pipeline is the alerting service's consumer. vars.go turns the
// messages it consumes into what the rules read.
package pipeline

import (
	"strings"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

// enumName is an enum value's name without its type prefix, lower-case:
// CHANNEL_APP → "app", NPS_CLASS_DETRACTOR → "detractor"; "" for the
// unspecified value.
func enumName(name, prefix string) string {
	if strings.HasSuffix(name, "_UNSPECIFIED") {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// VarsFromEvaluated is what the rules see of a CustomerEvaluated.
func VarsFromEvaluated(m *eventsv1.CustomerEvaluated) rules.Vars {
	p := m.GetProfile()
	v := profileVars(p)
	v.PreviousTier, v.PreviousChurnRisk = m.GetPreviousTier(), m.GetPreviousChurnRisk()
	v.NPS = -1
	switch c := m.GetCause().(type) {
	case *eventsv1.CustomerEvaluated_Feedback:
		f, s := c.Feedback.GetReceived().GetFeedback(), c.Feedback.GetScores()
		v.Kind = rules.Feedback
		if f.Nps != nil {
			v.NPS = int64(f.GetNps())
		}
		v.NPSClass = enumName(s.GetNpsClass().String(), "NPS_CLASS_")
		v.Experience, v.Sentiment = s.GetExperienceScore(), s.GetSentiment().GetScore()
		v.HasComment = f.GetComment().GetText() != ""
		v.Complaint = f.GetComplaint() != nil
		v.ComplaintCategory = enumName(f.GetComplaint().GetCategory().String(), "COMPLAINT_CATEGORY_")
		v.ComplaintSeverity = enumName(s.GetComplaintSeverity().String(), "COMPLAINT_SEVERITY_")
		v.Channel, v.Touchpoint, v.Attributes = enumName(f.GetChannel().String(), "CHANNEL_"), f.GetTouchpoint(), f.GetAttributes()
	case *eventsv1.CustomerEvaluated_Activity:
		a := c.Activity.GetActivity()
		v.Kind = rules.Activity
		v.Channel, v.Attributes = enumName(a.GetChannel().String(), "CHANNEL_"), a.GetAttributes()
	}
	return v
}

// VarsFromTierChanged is what the rules see of a TierChanged, with the
// customer's profile as alerting last saw it (nil when it has none).
func VarsFromTierChanged(m *eventsv1.TierChanged, p *segmentationv1.CustomerProfile) rules.Vars {
	v := profileVars(p)
	v.CustomerID, v.Kind, v.NPS = m.GetCustomerId(), rules.TierChange, -1
	v.Tier, v.PreviousTier = m.GetNewTier(), m.GetOldTier()
	v.PreviousChurnRisk = v.ChurnRisk
	return v
}

func profileVars(p *segmentationv1.CustomerProfile) rules.Vars {
	return rules.Vars{
		CustomerID:        p.GetCustomerId(),
		Tier:              p.GetTier(),
		ValueLevel:        enumName(p.GetValueLevel().String(), "VALUE_LEVEL_"),
		Lifecycle:         enumName(p.GetLifecycle().String(), "LIFECYCLE_STAGE_"),
		ChurnRisk:         p.GetChurnRisk().GetScore(),
		Satisfaction:      p.GetDecayedSatisfaction(),
		SatisfactionTrend: p.GetSatisfactionTrend(),
		HasSatisfaction:   p.GetFeedbackCount() > 0,
		Recency:           int64(p.GetRfm().GetRecency()),
		Frequency:         int64(p.GetRfm().GetFrequency()),
		Monetary:          int64(p.GetRfm().GetMonetary()),
		Detractors90d:     p.GetDetractors_90D(),
		Complaints90d:     p.GetComplaints_90D(),
	}
}
