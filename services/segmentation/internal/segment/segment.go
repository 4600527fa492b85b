// Package segment evaluates a customer: from the stored state it computes
// the profile (RFM, churn risk, lifecycle) with the tenant's configuration,
// the tier and value level with the rules, and decides whether the tier
// changed. It also holds a customer's stored record and its API form. Pure:
// no I/O.
package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

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
	cfg := e.configs.For(tenant)
	f := s.Facts(now, cfg.Currency)
	ev := Evaluation{At: now, Facts: f, RFM: cfg.ScoreRFM(f, now), Stage: cfg.Lifecycle(f, now), Currency: cfg.Currency}
	ev.Risk, ev.Reasons = cfg.Churn(f, now)
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
	r.Due = e.NextDue(tenant, &r, now)
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
	ev := e.Evaluate(tenant, &r.State, r.EvaluatedAt)
	// The stored tier stands (the rules may have changed since).
	ev.Tier, ev.Level = e.rules.Tier(r.Tier), r.Level
	return ev
}

// MarshalBinary encodes r.
func (r *Record) MarshalBinary() ([]byte, error) {
	b := r.State.AppendBinary(make([]byte, 0, 128))
	b = appendString(b, r.Tier)
	b = appendString(b, r.Level)
	for _, t := range []time.Time{r.TierSince, r.EvaluatedAt, r.Due} {
		b = appendTime(b, t)
	}
	b = binary.AppendVarint(b, r.Value)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Risk))
	b = binary.AppendUvarint(b, uint64(len(r.Pending)))
	for _, c := range r.Pending {
		b = appendString(appendString(appendString(b, c.EventID), c.Old), c.New)
		b = appendTime(b, c.At)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime writes t in ms since the epoch, 0 for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixMilli())
}

var errTruncated = errors.New("corrupt customer record: truncated")

// reader reads what MarshalBinary wrote after the state, remembering the
// first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errTruncated
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	if ms := r.varint(); ms != 0 {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

func (r *reader) float() float64 {
	if len(r.b) < 8 {
		r.err = errTruncated
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (r *Record) UnmarshalBinary(b []byte) error {
	s, rest, err := profile.DecodeState(b)
	if err != nil {
		return err
	}
	d := &reader{b: rest}
	*r = Record{State: s, Tier: d.string(), Level: d.string(), TierSince: d.time(), EvaluatedAt: d.time(), Due: d.time()}
	r.Value, r.Risk = d.varint(), d.float()
	n := d.uvarint()
	if n > MaxPending {
		return fmt.Errorf("corrupt customer record: %d pending changes", n)
	}
	for range n {
		r.Pending = append(r.Pending, Change{EventID: d.string(), Old: d.string(), New: d.string(), At: d.time()})
	}
	if d.err == nil && len(d.b) > 0 {
		return fmt.Errorf("corrupt customer record: %d trailing bytes", len(d.b))
	}
	return d.err
}

// NextDue is when r, evaluated at now, is next due for evaluation.
func (e *Evaluator) NextDue(tenant string, r *Record, now time.Time) time.Time {
	cfg := e.configs.For(tenant)
	return cfg.NextChange(r.State.Facts(now, cfg.Currency), now)
}
