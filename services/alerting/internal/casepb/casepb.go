// Package casepb is the API form of a recovery case
// (feedloop.alerting.v1.RecoveryCase) and of its changes.
package casepb

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var valueLevels = map[string]segmentationv1.ValueLevel{
	"low": segmentationv1.ValueLevel_VALUE_LEVEL_LOW, "medium": segmentationv1.ValueLevel_VALUE_LEVEL_MEDIUM, "high": segmentationv1.ValueLevel_VALUE_LEVEL_HIGH,
}

// ChangeType is the API's name of a change; the domain's follow the
// API's enum order.
func ChangeType(t cases.ChangeType) alertingv1.CaseEventType { return alertingv1.CaseEventType(t) }

// Case is the API form of c.
func Case(c *cases.Case) *alertingv1.RecoveryCase {
	p := &alertingv1.RecoveryCase{
		CaseId: c.ID, CustomerId: c.CustomerID,
		State:    alertingv1.CaseState(c.State),
		Severity: alertingv1.Severity(c.Severity),
		Rule:     c.Rule, MatchedRules: c.MatchedRules, Summary: c.Summary, Labels: c.Labels,
		Tier: c.Tier, ValueLevel: valueLevels[c.ValueLevel], Channel: c.Channel, Touchpoint: c.Touchpoint,
		EventCount: c.EventCount, FirstEventId: c.FirstEventID, LatestEventId: c.LatestEventID,
		OpenedAt: stamp(c.OpenedAt), UpdatedAt: stamp(c.UpdatedAt),
		AcknowledgeBy: stamp(c.AcknowledgeBy), ResolveBy: stamp(c.ResolveBy),
		EscalationLevel: int32(c.EscalationLevel),
		AcknowledgedBy:  c.AcknowledgedBy, AcknowledgedAt: stamp(c.AcknowledgedAt),
		ResolvedBy: c.ResolvedBy, ResolvedAt: stamp(c.ResolvedAt),
		OpeningExperienceScore: c.OpeningExperience,
	}
	if r := c.Resolution; r != nil {
		p.Resolution = &alertingv1.Resolution{RootCause: r.RootCause}
		for _, a := range r.Actions {
			pa := &alertingv1.RecoveryAction{Type: alertingv1.RecoveryActionType(a.Type), Note: a.Note}
			if a.Type == cases.Compensation {
				pa.Compensation = &intakev1.Money{AmountMinor: a.Compensation.Amount, Currency: a.Compensation.Currency}
			}
			p.Resolution.Actions = append(p.Resolution.Actions, pa)
		}
	}
	if o := c.Outcome; o != nil {
		p.Outcome = &alertingv1.Outcome{Recovered: o.Recovered, ExperienceScoreBefore: o.Before, ExperienceScoreAfter: o.After,
			EventId: o.EventID, MeasuredAt: stamp(o.MeasuredAt)}
	}
	return p
}

// Resolution is the domain form of r. A compensation keeps its amount;
// other actions carry none (as Case shows them).
func Resolution(r *alertingv1.Resolution) cases.Resolution {
	out := cases.Resolution{RootCause: r.GetRootCause()}
	for _, a := range r.GetActions() {
		action := cases.Action{Type: cases.ActionType(a.GetType()), Note: a.GetNote()}
		if action.Type == cases.Compensation {
			action.Compensation = cases.Money{Amount: a.GetCompensation().GetAmountMinor(), Currency: a.GetCompensation().GetCurrency()}
		}
		out.Actions = append(out.Actions, action)
	}
	return out
}

// Actor is who made change ch: "system" for what the service does on its
// own.
func Actor(ch cases.Change) string {
	if ch.Actor == "" {
		return "system"
	}
	return ch.Actor
}

// History is the API form of c's history, oldest first.
func History(c *cases.Case) []*alertingv1.CaseChange {
	out := make([]*alertingv1.CaseChange, len(c.History))
	for i, ch := range c.History {
		out[i] = &alertingv1.CaseChange{
			Type: ChangeType(ch.Type), Actor: Actor(ch), EventId: ch.EventID,
			OccurredAt: stamp(ch.At), Note: ch.Note, Inhibited: ch.Inhibited,
		}
	}
	return out
}
