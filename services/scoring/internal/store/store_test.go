package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

const day = 24 * time.Hour

var cfg = Config{HalfLife: 30 * day, DedupTTL: 48 * time.Hour, HourRetention: 35 * day, DayRetention: 400 * day}

// now is the store's clock in these tests; events happen before it.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newStore(t testing.TB, c Config) *Store {
	t.Helper()
	s := New(testkit.StartRedis(t).Client, c)
	s.now = func() time.Time { return now }
	return s
}

// update is an event of customer "c1" at now − ago with experience x.
func update(tenant, id string, ago time.Duration, x float64, class score.NPSClass) Update {
	var counts rollup.Counts
	counts[rollup.Responses] = 1
	counts[rollup.ExperienceSum], counts[rollup.ExperienceCount] = int64(x*rollup.ExperienceScale), 1
	return Update{
		Tenant: tenant, Customer: "c1", EventID: id, At: now.Add(-ago),
		Group: Group{Channel: 2, Touchpoint: "delivery:late"}, Experience: x, NPSClass: class,
		Scores: []byte(id), Counts: counts,
	}
}

func apply(t *testing.T, s *Store, ups ...Update) []Applied {
	t.Helper()
	out, errs := s.Apply(context.Background(), ups)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	return out
}

func customer(t *testing.T, s *Store, tenant string) Customer {
	t.Helper()
	c, found, err := s.Customer(context.Background(), tenant, "c1")
	if err != nil || !found {
		t.Fatalf("customer: found %v, %v", found, err)
	}
	return c
}

func TestDecayedSatisfactionAndTrend(t *testing.T) {
	s := newStore(t, cfg)
	// 100 a half-life ago, 0 now: weights 1 and 2 → 100/3. The trend's
	// half-life is a quarter of that: weights 1 and 16 → 100/17.
	got := apply(t, s, update("t", "old", 30*day, 100, score.Promoter), update("t", "new", 0, 0, score.Detractor))
	c := got[1].Customer
	if math.Abs(c.Satisfaction()-100.0/3) > 1e-9 || math.Abs(c.Trend()-(100.0/17-100.0/3)) > 1e-9 {
		t.Errorf("satisfaction %v trend %v, want %v and %v", c.Satisfaction(), c.Trend(), 100.0/3, 100.0/17-100.0/3)
	}
	if c.Feedback != 2 || c.Promoters != 1 || c.Detractors != 1 || c.Passives != 0 || c.LastEventID != "new" || !c.LastAt.Equal(now) {
		t.Errorf("customer = %+v", c)
	}
	stored := customer(t, s, "t")
	if string(stored.LastScores) != "new" {
		t.Errorf("latest scores = %q, want the newer event's", stored.LastScores)
	}
	stored.LastScores = nil
	if fmt.Sprint(stored) != fmt.Sprint(c) {
		t.Errorf("read back %+v, applied %+v", stored, c)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	s := newStore(t, cfg)
	ev := update("t", "e1", time.Hour, 80, score.Passive)
	ev.Complaint = true
	first := apply(t, s, ev)[0]
	again := apply(t, s, ev, ev)
	if first.Duplicate || !again[0].Duplicate || !again[1].Duplicate {
		t.Fatalf("duplicate flags: first %v, again %v %v", first.Duplicate, again[0].Duplicate, again[1].Duplicate)
	}
	if fmt.Sprint(again[1].Customer) != fmt.Sprint(first.Customer) || first.Customer.Feedback != 1 || first.Customer.Complaints != 1 {
		t.Errorf("after redelivery %+v, after one delivery %+v", again[1].Customer, first.Customer)
	}
	b, err := s.Buckets(context.Background(), "t", Hour, []time.Time{Hour.Start(ev.At)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b[0].Groups[ev.Group]; got != ev.Counts {
		t.Errorf("bucket counts %v, want one event's %v", got, ev.Counts)
	}
}

func TestOrderDoesNotMatter(t *testing.T) {
	s := newStore(t, cfg)
	var ups []Update
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		ups = append(ups, update("", fmt.Sprint("e", i), time.Duration(rng.IntN(60*24))*time.Hour, float64(rng.IntN(10001))/100, score.NPSClass(rng.IntN(4))))
	}
	for i := range ups {
		ups[i].Tenant = "forward"
		ups[i].Group = Group{Channel: int32(i % 3), Touchpoint: fmt.Sprint("tp", i%2)}
	}
	apply(t, s, ups...)
	for i := range ups {
		ups[i].Tenant = "shuffled"
	}
	rng.Shuffle(len(ups), func(i, j int) { ups[i], ups[j] = ups[j], ups[i] })
	for i := 0; i < len(ups); i += 7 { // in batches of various sizes
		apply(t, s, ups[i:min(i+7, len(ups))]...)
	}
	a, b := customer(t, s, "forward"), customer(t, s, "shuffled")
	if math.Abs(a.Satisfaction()-b.Satisfaction()) > 1e-9 || math.Abs(a.Trend()-b.Trend()) > 1e-9 {
		t.Errorf("satisfaction %v / %v, trend %v / %v", a.Satisfaction(), b.Satisfaction(), a.Trend(), b.Trend())
	}
	a.Sum, a.Weight, a.FastSum, a.FastWeight, b.Sum, b.Weight, b.FastSum, b.FastWeight = 0, 0, 0, 0, 0, 0, 0, 0
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("counts and latest differ:\n%+v\n%+v", a, b)
	}
	var starts []time.Time
	for d := now.Add(-61 * day); !d.After(now); d = d.Add(day) {
		starts = append(starts, Day.Start(d))
	}
	fa, _ := s.Buckets(context.Background(), "forward", Day, starts)
	fb, _ := s.Buckets(context.Background(), "shuffled", Day, starts)
	var total rollup.Counts
	for i := range fa {
		if fmt.Sprint(fa[i].Groups) != fmt.Sprint(fb[i].Groups) {
			t.Errorf("day %s: %v vs %v", starts[i], fa[i].Groups, fb[i].Groups)
		}
		for _, c := range fa[i].Groups {
			total.Add(c)
		}
	}
	if total[rollup.Responses] != 200 {
		t.Errorf("buckets hold %d responses, want 200", total[rollup.Responses])
	}
	// Each hour's "*" field is the sum of its groups.
	var hours []time.Time
	for h := now.Add(-61 * day); !h.After(now); h = h.Add(time.Hour) {
		hours = append(hours, Hour.Start(h))
	}
	groups, err := s.Buckets(context.Background(), "shuffled", Hour, hours)
	if err != nil {
		t.Fatal(err)
	}
	totals, err := s.HourTotals(context.Background(), "shuffled", Hour, hours)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hours {
		var sum rollup.Counts
		for _, c := range groups[i].Groups {
			sum.Add(c)
		}
		if sum != totals[i].Groups[Group{}] {
			t.Errorf("hour %s: total %v, groups sum to %v", hours[i], totals[i].Groups, sum)
		}
	}
}

func TestWeightsStayInRangeOverYears(t *testing.T) {
	c := cfg
	c.HalfLife = time.Hour // trend half-life 15 minutes: 2^(years/15m) overflows without re-basing
	s := newStore(t, c)
	apply(t, s, update("t", "a", 3*365*day, 0, score.NoNPS), update("t", "b", 0, 90, score.NoNPS))
	apply(t, s, update("t", "c", 2*365*day, 0, score.NoNPS))
	got := customer(t, s, "t")
	if math.IsNaN(got.Satisfaction()) || math.Abs(got.Satisfaction()-90) > 1e-9 || math.Abs(got.Trend()) > 1e-9 {
		t.Errorf("satisfaction %v, trend %v; want 90, 0 (older events weigh nothing)", got.Satisfaction(), got.Trend())
	}
}

func TestBucketRetention(t *testing.T) {
	s := newStore(t, cfg)
	old := update("t", "old", 40*day, 50, score.NoNPS) // past hourly retention, within daily
	recent := update("t", "recent", time.Hour, 50, score.NoNPS)
	apply(t, s, old, recent)
	hours, err := s.Buckets(context.Background(), "t", Hour, []time.Time{Hour.Start(old.At), Hour.Start(recent.At)})
	if err != nil {
		t.Fatal(err)
	}
	days, err := s.Buckets(context.Background(), "t", Day, []time.Time{Day.Start(old.At)})
	if err != nil {
		t.Fatal(err)
	}
	if len(hours[0].Groups) != 0 || len(hours[1].Groups) != 1 || len(days[0].Groups) != 1 {
		t.Errorf("old hour %v, recent hour %v, old day %v", hours[0].Groups, hours[1].Groups, days[0].Groups)
	}
	key := bucketKey("t", Hour, Hour.Start(recent.At))
	exp, err := s.rdb.ExpireTime(context.Background(), key).Result()
	if want := Hour.Start(recent.At).Add(time.Hour + cfg.HourRetention).Unix(); err != nil || int64(exp/time.Second) != want {
		t.Errorf("%s expires at %v (%v), want %d", key, exp, err, want)
	}
}

func TestUnreadableStateFailsOnlyItsEvents(t *testing.T) {
	s := newStore(t, cfg)
	ctx := context.Background()
	// A customer whose state is cut short fails its own event only.
	if err := s.rdb.HSet(ctx, customerKey("t", "bad"), "state", "short").Err(); err != nil {
		t.Fatal(err)
	}
	bad := update("t", "e-bad", time.Hour, 10, score.Detractor)
	bad.Customer = "bad"
	good := update("t", "e-good", time.Hour, 90, score.Promoter)
	// A bucket field that cannot be read fails its tenant's events, and
	// only them: nothing of that tenant is written.
	broken := update("broken", "e-broken", time.Hour, 50, score.NoNPS)
	if err := s.rdb.HSet(ctx, bucketKey("broken", Hour, Hour.Start(broken.At)), broken.Group.String(), "xyz").Err(); err != nil {
		t.Fatal(err)
	}
	other := update("other", "e-other", time.Hour, 50, score.NoNPS)

	out, errs := s.Apply(ctx, []Update{bad, good, broken, other})
	if !errors.Is(errs[0], ErrBadState) {
		t.Errorf("bad customer: %v, want ErrBadState", errs[0])
	}
	if errs[1] != nil || out[1].Customer.Feedback != 1 || errs[3] != nil || out[3].Customer.Feedback != 1 {
		t.Errorf("good events: %v %+v, %v %+v", errs[1], out[1], errs[3], out[3])
	}
	if errs[2] == nil {
		t.Error("event on a broken bucket applied")
	}
	for _, key := range []string{prefix("t") + "seen:e-bad", prefix("broken") + "seen:e-broken", customerKey("broken", "c1")} {
		if n, _ := s.rdb.Exists(ctx, key).Result(); n != 0 {
			t.Errorf("%s was written for a failed event", key)
		}
	}
	totals, err := s.HourTotals(ctx, "t", Hour, []time.Time{Hour.Start(good.At)})
	if err != nil || totals[0].Groups[Group{}][rollup.Responses] != 1 || totals[0].Groups[Group{}][rollup.Promoters] != 0 { // update() sets only responses and experience
		t.Errorf("hour total = %v, %v; want the good event alone", totals, err)
	}
}

func TestEraseDeletesOnlyTheCustomer(t *testing.T) {
	s := newStore(t, cfg)
	ctx := context.Background()
	erased := update("t", "e1", time.Hour, 80, score.Promoter)
	kept := update("t", "e2", time.Hour, 40, score.Detractor)
	kept.Customer = "c2"
	elsewhere := update("other", "e3", time.Hour, 60, score.Passive) // customer c1 of another tenant
	apply(t, s, erased, kept, elsewhere)

	for range 2 { // erasing again (a redelivered tombstone) is no error
		if err := s.Erase(ctx, "t", "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, found, err := s.Customer(ctx, "t", "c1"); found || err != nil {
		t.Errorf("erased customer: found %v, %v", found, err)
	}
	if c, found, err := s.Customer(ctx, "t", "c2"); !found || err != nil || c.Feedback != 1 {
		t.Errorf("other customer: %+v, found %v, %v", c, found, err)
	}
	if got := customer(t, s, "other"); got.Feedback != 1 {
		t.Errorf("c1 of another tenant = %+v", got)
	}
	// The report buckets are aggregates: both events still count.
	b, err := s.Buckets(ctx, "t", Hour, []time.Time{Hour.Start(erased.At)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b[0].Groups[erased.Group][rollup.Responses]; got != 2 {
		t.Errorf("bucket responses %d, want 2", got)
	}
	// A redelivery of the erased customer's event finds its guard and does
	// not bring the customer back.
	if again := apply(t, s, erased)[0]; !again.Duplicate {
		t.Error("redelivered event applied again")
	}
	if n, _ := s.rdb.Exists(ctx, customerKey("t", "c1")).Result(); n != 0 {
		t.Error("redelivered event recreated the erased customer")
	}
}
