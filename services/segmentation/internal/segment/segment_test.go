package segment_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/segmentation/internal/profile"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/tiers"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func evaluator(t testing.TB) *segment.Evaluator {
	rules, err := tiers.Default()
	if err != nil {
		t.Fatal(err)
	}
	return segment.NewEvaluator(profile.Configs{Default: profile.Default()}, rules)
}

func TestReevaluateRecordsTierChanges(t *testing.T) {
	eval := evaluator(t)
	var r segment.Record
	r.State.Apply(profile.Event{ID: "p1", At: now.Add(-time.Hour), Purchase: &profile.Money{Amount: 500, Currency: "USD"}})
	r, ev, changed := eval.Reevaluate("t", r, now, "p1")
	first := segment.Change{EventID: "p1", Old: "", New: "new", At: now}
	if !changed || r.Tier != "new" || !reflect.DeepEqual(r.Pending, []segment.Change{first}) || !r.TierSince.Equal(now) || !r.Due.Equal(now) {
		t.Fatalf("first evaluation: changed %v, record %+v", changed, r)
	}
	if ev.Tier.Name != r.Tier || r.Level != "low" || r.Value != 500 || r.Risk != ev.Risk {
		t.Errorf("record %+v does not hold the evaluation %+v", r, ev)
	}
	if p := eval.Published("t", r, now); len(p.Pending) != 0 || !p.Due.After(now) || len(r.Pending) != 1 {
		t.Errorf("published: %+v (from %+v)", p, r)
	}

	later := now.Add(time.Hour)
	r2, _, changed := eval.Reevaluate("t", eval.Published("t", r, now), later, "p2")
	if changed || len(r2.Pending) != 0 || !r2.TierSince.Equal(now) || !r2.EvaluatedAt.Equal(later) || !r2.Due.After(later) {
		t.Errorf("an unchanged tier: changed %v, record %+v", changed, r2)
	}

	// Forty days on she is no longer new; an unpublished change stays
	// pending before it.
	r3, _, changed := eval.Reevaluate("t", r, now.Add(40*24*time.Hour), "sweep-1")
	if !changed || len(r3.Pending) != 2 || r3.Pending[0] != first || r3.Pending[1].Old != "new" || r3.Pending[1].EventID != "sweep-1" || r3.Tier == "new" {
		t.Errorf("after forty days: changed %v, record %+v", changed, r3)
	}
	if len(r.Pending) != 1 {
		t.Errorf("re-evaluating a copy changed the original's pending changes: %+v", r.Pending)
	}
	if got := eval.At("t", &r3); got.Tier.Name != r3.Tier || got.Risk != r3.Risk {
		t.Errorf("At gives %+v for %+v", got, r3)
	}
}

func TestRecordEncodingRoundTrips(t *testing.T) {
	eval := evaluator(t)
	var r segment.Record
	r.State.Apply(profile.Event{ID: "f", At: now, Feedback: true, NPS: profile.Detractor, Complaint: true, Satisfaction: 20, Rated: 1})
	r, _, _ = eval.Reevaluate("t", r, now, "f")
	for _, want := range []segment.Record{{}, r} {
		b, _ := want.MarshalBinary()
		var got segment.Record
		if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: %+v, %v; want %+v", got, err, want)
		}
		for cut := range len(b) {
			if err := got.UnmarshalBinary(b[:cut]); err == nil {
				t.Errorf("a record cut to %d bytes decodes", cut)
			}
		}
	}
}

// FuzzDecodeRecord: a stored record of any bytes decodes or fails, never
// panics, and what decodes encodes to bytes that decode to the same
// encoding again (compared as bytes: a decoded NaN is not equal to itself).
func FuzzDecodeRecord(f *testing.F) {
	eval := evaluator(f)
	var r segment.Record
	r.State.Apply(profile.Event{ID: "p", At: now, Purchase: &profile.Money{Amount: 5, Currency: "EUR"}})
	r, _, _ = eval.Reevaluate("t", r, now, "p")
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r segment.Record
		if r.UnmarshalBinary(b) != nil {
			return
		}
		once, _ := r.MarshalBinary()
		var r2 segment.Record
		if err := r2.UnmarshalBinary(once); err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
		if twice, _ := r2.MarshalBinary(); !bytes.Equal(once, twice) {
			t.Fatalf("encodings differ:\n%x\n%x", once, twice)
		}
	})
}
