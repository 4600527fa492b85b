// Package segment evaluates a customer: from the stored state it computes
// the profile (RFM, churn risk, lifecycle) with the tenant's configuration,
// the tier and value level with the rules, and decides whether the tier
// changed. It also holds a customer's stored record and its API form. Pure:
// no I/O.
package segment

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/feedloop/feedloop/services/segmentation/internal/codec"
	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

// Record is a customer as stored: the merged state and the evaluation that
// the indexes and the tier report hold for them.
type Record struct {
	State profile.State
	// Tier is the customer's tier since TierSince; Level their value level.
	Tier      string
	TierSince time.Time
	Level     string
	// Risk is the churn risk at EvaluatedAt; Value the spend in the
	// tenant's currency.
	Risk        float64
	Value       int64
	EvaluatedAt time.Time
	// Due is when the evaluation may next change without a new event (a
	// recency or lifecycle boundary, or the daily refresh).
	Due time.Time
	// Pending are tier changes not yet known to be published, oldest
	// first: an outbox. Whoever writes the record publishes them and, once
	// published, clears them.
	Pending []Change
}

// MaxPending bounds the outbox: beyond it the oldest changes are dropped
// (a customer whose changes could not be published MaxPending times).
const MaxPending = 16

// Change is a tier change and the event that caused it (a sweep's id for
// changes that time made).
type Change struct {
	EventID, Old, New string
	At                time.Time
}

// Evaluation is everything computed about a customer at one moment.
type Evaluation struct {
	At      time.Time
	Facts   profile.Facts
	RFM     profile.RFM
	Risk    float64
	Reasons []profile.Reason
	Stage   profile.Stage
	Tier    tiers.Tier
	Level   string
	// Currency is the tenant's currency, in which Facts.Monetary is.
	Currency string
}

// Evaluator evaluates customers with each tenant's configuration and the
// tier rules.
type Evaluator struct {
	configs profile.Configs
	rules   *tiers.Rules
}

// NewEvaluator returns an evaluator.
func NewEvaluator(configs profile.Configs, rules *tiers.Rules) *Evaluator {
	return &Evaluator{configs: configs, rules: rules}
}

// Rules are the tier rules in use.
func (e *Evaluator) Rules() *tiers.Rules { return e.rules }

// Evaluate computes the customer's profile, tier and value level at now.
func (e *Evaluator) Evaluate(tenant string, s *profile.State, now time.Time) Evaluation {
	ev := e.withoutTier(tenant, s, now)
	f := ev.Facts
	vars := tiers.Vars{
		Recency: int64(ev.RFM.Recency), Frequency: int64(ev.RFM.Frequency), Monetary: int64(ev.RFM.Monetary),
		ChurnRisk:       ev.Risk,
		Lifecycle:       ev.Stage.String(),
		LatestNPS:       s.LatestNPS.String(),
		Satisfaction:    f.Satisfaction,
		Trend:           f.Trend,
		HasSatisfaction: f.HasSatisfaction,
		Purchases:       f.Purchases, Purchases90d: f.Purchases90d, Purchases365d: f.Purchases365d,
		Feedback:      s.Feedback,
		Detractors30d: f.Detractors30d, Detractors90d: f.Detractors90d,
		Complaints30d: f.Complaints30d, Complaints90d: f.Complaints90d,
		DaysSinceLastSeen: now.Sub(f.LastSeen).Hours() / 24,
	}
	ev.Tier, ev.Level = e.rules.Evaluate(&vars)
	return ev
}

// Reevaluate evaluates r at now on behalf of the event with id cause and
// returns the record holding the new evaluation, the evaluation, and
// whether the tier changed (the change is then the last of r.Pending, and
// the record is due at once, so that the sweep publishes it should its
// writer not).
func (e *Evaluator) Reevaluate(tenant string, r Record, now time.Time, cause string) (Record, Evaluation, bool) {
	ev := e.Evaluate(tenant, &r.State, now)
	changed := ev.Tier.Name != r.Tier
	if changed {
		r.Pending = append(r.Pending[max(0, len(r.Pending)+1-MaxPending):len(r.Pending):len(r.Pending)],
			Change{EventID: cause, Old: r.Tier, New: ev.Tier.Name, At: now})
		r.Tier, r.TierSince = ev.Tier.Name, now
	}
	r.Level, r.Risk, r.Value, r.EvaluatedAt = ev.Level, ev.Risk, ev.Facts.Monetary, now
	r.Due = e.configs.For(tenant).NextChange(ev.Facts, now)
	if len(r.Pending) > 0 {
		r.Due = now
	}
	return r, ev, changed
}

// Published returns r with its pending changes published: none pending,
// and due when its evaluation may next change.
func (e *Evaluator) Published(tenant string, r Record, now time.Time) Record {
	r.Pending = nil
	r.Due = e.NextDue(tenant, &r, now)
	return r
}

// At evaluates the stored record as it was evaluated (at EvaluatedAt), so
// what a reader sees matches the indexes and what was published.
func (e *Evaluator) At(tenant string, r *Record) Evaluation {
	ev := e.withoutTier(tenant, &r.State, r.EvaluatedAt)
	// The stored tier stands: no need to run the rules (which may have
	// changed since).
	ev.Tier, ev.Level = e.rules.Tier(r.Tier), r.Level
	return ev
}

// withoutTier is the evaluation without the tier rules.
func (e *Evaluator) withoutTier(tenant string, s *profile.State, now time.Time) Evaluation {
	cfg := e.configs.For(tenant)
	f := s.Facts(now, cfg.Currency)
	ev := Evaluation{At: now, Facts: f, RFM: cfg.ScoreRFM(f, now), Stage: cfg.Lifecycle(f, now), Currency: cfg.Currency}
	ev.Risk, ev.Reasons = cfg.Churn(f, now)
	return ev
}

// MarshalBinary encodes r.
func (r *Record) MarshalBinary() ([]byte, error) {
	b := r.State.AppendBinary(make([]byte, 0, 128))
	b = codec.AppendString(b, r.Tier)
	b = codec.AppendString(b, r.Level)
	for _, t := range []time.Time{r.TierSince, r.EvaluatedAt, r.Due} {
		b = codec.AppendTime(b, t)
	}
	b = binary.AppendVarint(b, r.Value)
	b = codec.AppendFloat(b, r.Risk)
	b = binary.AppendUvarint(b, uint64(len(r.Pending)))
	for _, c := range r.Pending {
		b = codec.AppendString(codec.AppendString(codec.AppendString(b, c.EventID), c.Old), c.New)
		b = codec.AppendTime(b, c.At)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (r *Record) UnmarshalBinary(b []byte) error {
	s, rest, err := profile.DecodeState(b)
	if err != nil {
		return err
	}
	d := &codec.Reader{B: rest}
	*r = Record{State: s, Tier: d.String(), Level: d.String(), TierSince: d.Time(), EvaluatedAt: d.Time(), Due: d.Time()}
	r.Value, r.Risk = d.Varint(), d.Float()
	n := d.Uvarint()
	if n > MaxPending {
		return fmt.Errorf("corrupt customer record: %d pending changes", n)
	}
	for range n {
		r.Pending = append(r.Pending, Change{EventID: d.String(), Old: d.String(), New: d.String(), At: d.Time()})
	}
	if d.Err == nil && len(d.B) > 0 {
		return fmt.Errorf("corrupt customer record: %d trailing bytes", len(d.B))
	}
	if d.Err != nil {
		return fmt.Errorf("corrupt customer record: %w", d.Err)
	}
	return nil
}

// NextDue is when r, evaluated at now, is next due for evaluation.
func (e *Evaluator) NextDue(tenant string, r *Record, now time.Time) time.Time {
	cfg := e.configs.For(tenant)
	return cfg.NextChange(r.State.Facts(now, cfg.Currency), now)
}
