package pipeline

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/rules"
)

func profile() *segmentationv1.CustomerProfile {
	return &segmentationv1.CustomerProfile{
		CustomerId: "ann", Tier: "at-risk", ValueLevel: segmentationv1.ValueLevel_VALUE_LEVEL_HIGH,
		Lifecycle: segmentationv1.LifecycleStage_LIFECYCLE_STAGE_ACTIVE, ChurnRisk: &segmentationv1.ChurnRisk{Score: 0.72},
		DecayedSatisfaction: 30, SatisfactionTrend: -20, FeedbackCount: 3,
		Rfm: &segmentationv1.Rfm{Recency: 5, Frequency: 4, Monetary: 4}, Detractors_90D: 1, Complaints_90D: 1,
	}
}

func TestVars(t *testing.T) {
	feedback := &eventsv1.CustomerEvaluated{
		TenantId: "t", PreviousTier: "champion", PreviousChurnRisk: 0.2, Profile: profile(),
		Cause: &eventsv1.CustomerEvaluated_Feedback{Feedback: &eventsv1.FeedbackScored{
			Received: &eventsv1.FeedbackReceived{TenantId: "t", Feedback: &intakev1.Feedback{
				EventId: "f1", CustomerId: "ann", Channel: intakev1.Channel_CHANNEL_APP, Touchpoint: "delivery", Nps: proto.Int32(2),
				Comment:    &intakev1.Comment{Text: "late again"},
				Complaint:  &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY},
				Attributes: map[string]string{"region": "north"},
			}},
			Scores: &scoringv1.Scores{NpsClass: scoringv1.NpsClass_NPS_CLASS_DETRACTOR, ExperienceScore: 12,
				Sentiment: &scoringv1.Sentiment{Score: -0.5}, ComplaintSeverity: scoringv1.ComplaintSeverity_COMPLAINT_SEVERITY_HIGH},
		}},
	}
	profileVars := rules.Vars{CustomerID: "ann", Tier: "at-risk", ValueLevel: "high", Lifecycle: "active", ChurnRisk: 0.72,
		Satisfaction: 30, SatisfactionTrend: -20, HasSatisfaction: true, Recency: 5, Frequency: 4, Monetary: 4, Detractors90d: 1, Complaints90d: 1}
	want := profileVars
	want.Kind, want.PreviousTier, want.PreviousChurnRisk = rules.Feedback, "champion", 0.2
	want.NPS, want.NPSClass, want.Experience, want.Sentiment, want.HasComment = 2, "detractor", 12, -0.5, true
	want.Complaint, want.ComplaintCategory, want.ComplaintSeverity = true, "delivery", "high"
	want.Channel, want.Touchpoint, want.Attributes = "app", "delivery", map[string]string{"region": "north"}
	if got := VarsFromEvaluated(feedback); !reflect.DeepEqual(got, want) {
		t.Errorf("feedback\n got %+v\nwant %+v", got, want)
	}

	purchase := &eventsv1.CustomerEvaluated{TenantId: "t", PreviousTier: "at-risk", PreviousChurnRisk: 0.72, Profile: profile(),
		Cause: &eventsv1.CustomerEvaluated_Activity{Activity: &eventsv1.ActivityReceived{Activity: &intakev1.Activity{
			Channel: intakev1.Channel_CHANNEL_STORE, Purchase: &intakev1.Purchase{OrderId: "o"}}}}}
	want = profileVars
	want.Kind, want.PreviousTier, want.PreviousChurnRisk, want.NPS, want.Channel = rules.Activity, "at-risk", 0.72, -1, "store"
	if got := VarsFromEvaluated(purchase); !reflect.DeepEqual(got, want) {
		t.Errorf("purchase\n got %+v\nwant %+v", got, want)
	}

	change := &eventsv1.TierChanged{TenantId: "t", CustomerId: "ann", EventId: "sweep-1", OldTier: "at-risk", NewTier: "cannot-lose"}
	want = profileVars
	want.Kind, want.Tier, want.PreviousTier, want.PreviousChurnRisk, want.NPS = rules.TierChange, "cannot-lose", "at-risk", 0.72, -1
	if got := VarsFromTierChanged(change, profile()); !reflect.DeepEqual(got, want) {
		t.Errorf("tier change\n got %+v\nwant %+v", got, want)
	}
	if got := VarsFromTierChanged(change, nil); got.CustomerID != "ann" || got.Tier != "cannot-lose" || got.ValueLevel != "" {
		t.Errorf("tier change without a profile: %+v", got)
	}
}

// TestDefaultRulesOnMessages runs the default rules on the messages as
// segmentation publishes them.
func TestDefaultRulesOnMessages(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	feedback := &eventsv1.CustomerEvaluated{PreviousTier: "champion", Profile: profile(),
		Cause: &eventsv1.CustomerEvaluated_Feedback{Feedback: &eventsv1.FeedbackScored{
			Received: &eventsv1.FeedbackReceived{Feedback: &intakev1.Feedback{CustomerId: "ann", Nps: proto.Int32(2)}},
			Scores:   &scoringv1.Scores{NpsClass: scoringv1.NpsClass_NPS_CLASS_DETRACTOR},
		}}}
	v := VarsFromEvaluated(feedback)
	var got []string
	for _, m := range rs.Evaluate(&v) {
		got = append(got, m.Rule+":"+m.Severity.String())
	}
	want := []string{"vip-detractor-or-complaint:" + alert.Critical.String(), "satisfaction-falling:high", "churn-risk-crossed:high"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
	// The tier change the feedback caused arrives on its own and matches
	// the tier rule.
	change := &eventsv1.TierChanged{CustomerId: "ann", EventId: "f1", OldTier: "champion", NewTier: "at-risk"}
	v = VarsFromTierChanged(change, profile())
	got = got[:0]
	for _, m := range rs.Evaluate(&v) {
		got = append(got, m.Rule+":"+m.Severity.String())
	}
	if want := []string{"into-at-risk:high"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tier change matched %v, want %v", got, want)
	}
}
