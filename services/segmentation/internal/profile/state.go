package profile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/feedloop/feedloop/services/segmentation/internal/codec"
)

// Windows over which event times are kept.
const (
	purchaseWindow = 365 * day
	feedbackWindow = 90 * day
	// MaxTimes bounds each list of kept event times: the most recent are
	// kept, so counts over a window saturate at MaxTimes (far above any
	// boundary a tier needs).
	MaxTimes = 1000
)

// NPS is a Net Promoter class.
type NPS uint8

// NPS classes; NoNPS when the customer gave no NPS answer.
const (
	NoNPS NPS = iota
	Promoter
	Passive
	Detractor
)

var npsNames = [...]string{"", "promoter", "passive", "detractor"}

func (n NPS) String() string { return npsNames[n] }

// Event is what one event tells about a customer.
type Event struct {
	ID string
	At time.Time
	// Purchase is set for a purchase: its amount in minor units and
	// currency.
	Purchase *Money
	// Feedback is true for scored feedback; NPS, Complaint and the rolling
	// satisfaction below come with it.
	Feedback  bool
	NPS       NPS
	Complaint bool
	// Satisfaction and Trend are the customer's decayed satisfaction and
	// trend after this event, as scoring computed them over Rated pieces of
	// feedback (Rated > 0 when set).
	Satisfaction, Trend float64
	Rated               int64
}

// Money is an amount in a currency's minor unit.
type Money struct {
	Amount   int64
	Currency string
}

// State is what segmentation keeps about a customer: every event merged in
// with operations that do not depend on the order events arrive in (counts,
// sums, minimum and maximum times, the most recent event times, the value
// of the latest or most complete event).
type State struct {
	FirstSeen, LastSeen         time.Time
	FirstPurchase, LastPurchase time.Time
	Purchases, Feedback         int64
	// Spend per currency, minor units.
	Spend map[string]int64
	// PurchaseTimes are purchase times (ms) within 365 days of the last
	// purchase, ascending, at most MaxTimes.
	PurchaseTimes []int64
	// DetractorTimes and ComplaintTimes are those feedback times (ms) within
	// 90 days of LastSeen, ascending, at most MaxTimes.
	DetractorTimes, ComplaintTimes []int64
	// Satisfaction and Trend are from the scored event whose rolling scores
	// covered the most feedback (Rated): the most complete.
	Satisfaction, Trend float64
	Rated               int64
	// LatestNPS is the class of the latest NPS answer (by time, then id).
	LatestNPS   NPS
	LatestNPSAt time.Time
	LatestNPSID string
}

// Apply merges e into s. Each event must be applied once (the store
// guards against repeats).
func (s *State) Apply(e Event) {
	at := e.At.UTC().Truncate(time.Millisecond)
	if s.FirstSeen.IsZero() || at.Before(s.FirstSeen) {
		s.FirstSeen = at
	}
	if at.After(s.LastSeen) {
		s.LastSeen = at
	}
	if p := e.Purchase; p != nil {
		s.Purchases++
		if s.Spend == nil {
			s.Spend = map[string]int64{}
		}
		s.Spend[p.Currency] += p.Amount
		if s.FirstPurchase.IsZero() || at.Before(s.FirstPurchase) {
			s.FirstPurchase = at
		}
		if at.After(s.LastPurchase) {
			s.LastPurchase = at
		}
		s.PurchaseTimes = keep(s.PurchaseTimes, at, s.LastPurchase, purchaseWindow, true)
	}
	// Every event moves LastSeen, so feedback times are trimmed after any.
	s.DetractorTimes = keep(s.DetractorTimes, at, s.LastSeen, feedbackWindow, e.Feedback && e.NPS == Detractor)
	s.ComplaintTimes = keep(s.ComplaintTimes, at, s.LastSeen, feedbackWindow, e.Feedback && e.Complaint)
	if e.Feedback {
		s.Feedback++
		// The most complete rolling scores; equally complete ones (a tie
		// only replays can make) are ordered by value.
		if e.Rated > s.Rated || (e.Rated == s.Rated && (e.Satisfaction > s.Satisfaction ||
			(e.Satisfaction == s.Satisfaction && e.Trend > s.Trend))) {
			s.Satisfaction, s.Trend, s.Rated = e.Satisfaction, e.Trend, e.Rated
		}
		if e.NPS != NoNPS && (at.After(s.LatestNPSAt) || (at.Equal(s.LatestNPSAt) && e.ID > s.LatestNPSID)) {
			s.LatestNPS, s.LatestNPSAt, s.LatestNPSID = e.NPS, at, e.ID
		}
	}
}

// keep adds at to times when add holds, and keeps only the times within
// window before latest, at most MaxTimes of the most recent. The result is
// the same whatever order times are added in.
func keep(times []int64, at, latest time.Time, window time.Duration, add bool) []int64 {
	cutoff := latest.Add(-window).UnixMilli()
	if add && at.UnixMilli() > cutoff {
		i, _ := slices.BinarySearch(times, at.UnixMilli())
		times = slices.Insert(times, i, at.UnixMilli())
	}
	drop, _ := slices.BinarySearch(times, cutoff+1)
	drop = max(drop, len(times)-MaxTimes)
	if drop > 0 {
		times = slices.Delete(times, 0, drop)
	}
	return times
}

// since counts the times in (now − d, now].
func since(times []int64, now time.Time, d time.Duration) int64 {
	lo, _ := slices.BinarySearch(times, now.Add(-d).UnixMilli()+1)
	hi, _ := slices.BinarySearch(times, now.UnixMilli()+1)
	return int64(max(0, hi-lo))
}

// Facts are the state as of now, with monetary value in currency.
func (s *State) Facts(now time.Time, currency string) Facts {
	return Facts{
		FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		FirstPurchase: s.FirstPurchase, LastPurchase: s.LastPurchase,
		Purchases:       s.Purchases,
		Purchases90d:    since(s.PurchaseTimes, now, 90*day),
		Purchases365d:   since(s.PurchaseTimes, now, 365*day),
		Monetary:        s.Spend[currency],
		Satisfaction:    s.Satisfaction,
		Trend:           s.Trend,
		HasSatisfaction: s.Rated > 0,
		Detractors30d:   since(s.DetractorTimes, now, 30*day),
		Detractors90d:   since(s.DetractorTimes, now, 90*day),
		Complaints30d:   since(s.ComplaintTimes, now, 30*day),
		Complaints90d:   since(s.ComplaintTimes, now, 90*day),
	}
}

// stateVersion is the first byte of an encoded State; a change of layout
// gets a new one.
const stateVersion = 1

// AppendBinary appends s's encoding to b.
func (s *State) AppendBinary(b []byte) []byte {
	b = append(b, stateVersion)
	for _, t := range []time.Time{s.FirstSeen, s.LastSeen, s.FirstPurchase, s.LastPurchase, s.LatestNPSAt} {
		b = codec.AppendTime(b, t)
	}
	b = binary.AppendVarint(b, s.Purchases)
	b = binary.AppendVarint(b, s.Feedback)
	b = binary.AppendVarint(b, s.Rated)
	b = codec.AppendFloat(b, s.Satisfaction)
	b = codec.AppendFloat(b, s.Trend)
	b = append(b, byte(s.LatestNPS))
	b = codec.AppendString(b, s.LatestNPSID)
	b = binary.AppendUvarint(b, uint64(len(s.Spend)))
	for _, c := range slices.Sorted(maps.Keys(s.Spend)) { // one encoding per state
		b = codec.AppendString(b, c)
		b = binary.AppendVarint(b, s.Spend[c])
	}
	for _, times := range [][]int64{s.PurchaseTimes, s.DetractorTimes, s.ComplaintTimes} {
		b = binary.AppendUvarint(b, uint64(len(times)))
		prev := int64(0)
		for _, t := range times { // ascending: deltas are small
			b = binary.AppendVarint(b, t-prev)
			prev = t
		}
	}
	return b
}

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt customer state")

// DecodeState reads a State AppendBinary wrote and returns the bytes after
// it.
func DecodeState(b []byte) (State, []byte, error) {
	if len(b) == 0 || b[0] != stateVersion {
		return State{}, nil, fmt.Errorf("%w: unknown layout", errCorrupt)
	}
	d := &codec.Reader{B: b[1:]}
	var s State
	for _, t := range []*time.Time{&s.FirstSeen, &s.LastSeen, &s.FirstPurchase, &s.LastPurchase, &s.LatestNPSAt} {
		*t = d.Time()
	}
	s.Purchases, s.Feedback, s.Rated = d.Varint(), d.Varint(), d.Varint()
	s.Satisfaction, s.Trend = d.Float(), d.Float()
	if nps := d.Bytes(1); nps != nil && nps[0] <= uint8(Detractor) {
		s.LatestNPS = NPS(nps[0])
	} else if d.Err == nil {
		d.Err = errors.New("unknown NPS class")
	}
	s.LatestNPSID = d.String()
	if n := d.Uvarint(); n > 0 && d.Err == nil {
		s.Spend = make(map[string]int64, min(n, 16))
		for range min(n, uint64(len(d.B))) {
			c := d.String()
			s.Spend[c] = d.Varint()
		}
	}
	for _, times := range []*[]int64{&s.PurchaseTimes, &s.DetractorTimes, &s.ComplaintTimes} {
		n := d.Uvarint()
		if n > MaxTimes {
			d.Err = fmt.Errorf("%d times, more than %d", n, MaxTimes)
			break
		}
		prev := int64(0)
		for range n {
			prev += d.Varint()
			*times = append(*times, prev)
		}
	}
	if d.Err != nil {
		return State{}, nil, fmt.Errorf("%w: %v", errCorrupt, d.Err)
	}
	return s, d.B, nil
}
