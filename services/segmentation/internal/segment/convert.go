package segment

import (
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

var (
	npsClasses = [...]scoringv1.NpsClass{
		profile.NoNPS:     scoringv1.NpsClass_NPS_CLASS_UNSPECIFIED,
		profile.Promoter:  scoringv1.NpsClass_NPS_CLASS_PROMOTER,
		profile.Passive:   scoringv1.NpsClass_NPS_CLASS_PASSIVE,
		profile.Detractor: scoringv1.NpsClass_NPS_CLASS_DETRACTOR,
	}
	valueLevels = map[string]segmentationv1.ValueLevel{
		"low": segmentationv1.ValueLevel_VALUE_LEVEL_LOW, "medium": segmentationv1.ValueLevel_VALUE_LEVEL_MEDIUM, "high": segmentationv1.ValueLevel_VALUE_LEVEL_HIGH,
	}
)

// NPSFromProto is the domain's NPS class; a class this build does not
// know counts as no answer.
func NPSFromProto(c scoringv1.NpsClass) profile.NPS {
	return profile.NPS(max(0, slices.Index(npsClasses[:], c)))
}

// ValueLevel is the API's value level.
func ValueLevel(level string) segmentationv1.ValueLevel { return valueLevels[level] }

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Reasons are the API form of reasons.
func Reasons(rs []profile.Reason) []*segmentationv1.Reason {
	out := make([]*segmentationv1.Reason, len(rs))
	for i, r := range rs {
		out[i] = &segmentationv1.Reason{Code: r.Code, Description: r.Description, Contribution: r.Contribution}
	}
	return out
}

// TierReasons explain a tier: the rule that matched, described.
func TierReasons(t tiers.Tier) []*segmentationv1.Reason {
	return []*segmentationv1.Reason{{Code: "tier_rule:" + t.Name, Description: t.Description}}
}

// Proto is the API form of customer id's record r and its evaluation ev.
func Proto(id string, r *Record, ev Evaluation) *segmentationv1.CustomerProfile {
	s, f := &r.State, ev.Facts
	p := &segmentationv1.CustomerProfile{
		CustomerId:          id,
		FirstSeen:           stamp(s.FirstSeen),
		LastSeen:            stamp(s.LastSeen),
		LastPurchaseAt:      stamp(s.LastPurchase),
		PurchaseCount:       s.Purchases,
		FeedbackCount:       s.Feedback,
		Monetary:            &intakev1.Money{AmountMinor: f.Monetary, Currency: ev.Currency},
		Purchases_90D:       f.Purchases90d,
		Purchases_365D:      f.Purchases365d,
		Rfm:                 &segmentationv1.Rfm{Recency: int32(ev.RFM.Recency), Frequency: int32(ev.RFM.Frequency), Monetary: int32(ev.RFM.Monetary)},
		DecayedSatisfaction: f.Satisfaction,
		SatisfactionTrend:   f.Trend,
		LatestNpsClass:      npsClasses[s.LatestNPS],
		Detractors_30D:      f.Detractors30d,
		Detractors_90D:      f.Detractors90d,
		Complaints_30D:      f.Complaints30d,
		Complaints_90D:      f.Complaints90d,
		ChurnRisk:           &segmentationv1.ChurnRisk{Score: ev.Risk, Reasons: Reasons(ev.Reasons)},
		Lifecycle:           segmentationv1.LifecycleStage(ev.Stage),
		Tier:                r.Tier,
		TierReasons:         TierReasons(ev.Tier),
		TierSince:           stamp(r.TierSince),
		ValueLevel:          ValueLevel(r.Level),
		UpdatedAt:           stamp(r.EvaluatedAt),
	}
	for _, c := range slices.Sorted(maps.Keys(s.Spend)) {
		if c != ev.Currency {
			p.OtherMonetary = append(p.OtherMonetary, &intakev1.Money{AmountMinor: s.Spend[c], Currency: c})
		}
	}
	return p
}
