// Package store keeps scoring's state in Redis: each customer's rolling
// scores and each tenant's report buckets (hour and day × channel ×
// touchpoint). One Lua script applies all of an event's updates atomically
// and records its id, so a redelivered event changes nothing.
//
// Keys (all of a tenant's scoring keys share the hash tag {<tenant>}, so
// one script can update the customer and the tenant's buckets together on
// Redis Cluster; each event touches its tenant's buckets anyway):
//
//	fl:{<tenant>}:scoring:seen:<event id>    guard, expires after DedupTTL
//	fl:{<tenant>}:scoring:customer:<id>      hash: state (decayed sums and counts, packed), latest id and scores
//	fl:{<tenant>}:scoring:hour:<unix start>  hash: group → counters (rollup format), "*" → total
//	fl:{<tenant>}:scoring:day:<unix start>   the same per UTC day, without "*"
package store

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

//go:embed apply.lua
var applySource string

var applyScript = redisx.NewScript(applySource)

// Config holds the retention and decay settings.
type Config struct {
	// HalfLife of the decayed satisfaction; the trend compares it with a
	// quarter of the half-life.
	HalfLife time.Duration
	// DedupTTL is how long an applied event's id is remembered: longer than
	// any redelivery can take.
	DedupTTL time.Duration
	// HourRetention and DayRetention are how long buckets are kept after
	// they end.
	HourRetention, DayRetention time.Duration
}

// Store reads and writes scoring state.
type Store struct {
	rdb redis.Cmdable
	cfg Config
	now func() time.Time
}

// New returns a store on rdb.
func New(rdb redis.Cmdable, cfg Config) *Store { return &Store{rdb: rdb, cfg: cfg, now: time.Now} }

// Granularity is a bucket size.
type Granularity int

// Bucket sizes.
const (
	Hour Granularity = iota
	Day
)

// Size is the bucket's length.
func (g Granularity) Size() time.Duration {
	if g == Day {
		return 24 * time.Hour
	}
	return time.Hour
}

// Start is the start of the bucket holding t (UTC).
func (g Granularity) Start(t time.Time) time.Time { return t.UTC().Truncate(g.Size()) }

func (g Granularity) name() string {
	if g == Day {
		return "day"
	}
	return "hour"
}

// OldestHour is the start of the oldest hour bucket still kept.
func (s *Store) OldestHour() time.Time {
	return Hour.Start(s.now().Add(-time.Hour - s.cfg.HourRetention)).Add(time.Hour)
}

func (s *Store) retention(g Granularity) time.Duration {
	if g == Day {
		return s.cfg.DayRetention
	}
	return s.cfg.HourRetention
}

func prefix(tenant string) string { return "fl:{" + tenant + "}:scoring:" }

func bucketKey(tenant string, g Granularity, start time.Time) string {
	return prefix(tenant) + g.name() + ":" + strconv.FormatInt(start.Unix(), 10)
}

func customerKey(tenant, customer string) string { return prefix(tenant) + "customer:" + customer }

// Group names a channel and touchpoint within a bucket.
type Group struct {
	Channel    int32
	Touchpoint string
}

func (g Group) String() string { return strconv.Itoa(int(g.Channel)) + ":" + g.Touchpoint }

func parseGroup(s string) (Group, error) {
	ch, tp, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(ch)
	if !ok || err != nil {
		return Group{}, fmt.Errorf("bad bucket field %q", s)
	}
	return Group{Channel: int32(n), Touchpoint: tp}, nil
}

// Update is one scored event to apply.
type Update struct {
	Tenant, Customer, EventID string
	At                        time.Time
	Group                     Group
	Experience                float64
	NPSClass                  score.NPSClass
	Complaint                 bool
	// Scores is the event's scoring.v1.Scores, marshalled: kept as the
	// customer's latest scores when the event is their latest.
	Scores []byte
	Counts rollup.Counts
}

// Applied is the outcome of one update.
type Applied struct {
	// Duplicate is true when the event had been applied before; Customer is
	// then the customer's current state. Customer.LastScores is not filled
	// in (Store.Customer reads them).
	Duplicate bool
	Customer  Customer
}

// npsClass is how apply.lua takes each NPS class.
var npsClass = map[score.NPSClass]string{score.NoNPS: "0", score.Promoter: "1", score.Passive: "2", score.Detractor: "3"}

// maxPerScript bounds the events one script applies: Redis serves no one
// else while a script runs (about 40 µs per event).
const maxPerScript = 100

// Apply applies the updates in one round trip (one script per tenant and
// up to maxPerScript events) and returns each one's outcome or error, in
// order.
func (s *Store) Apply(ctx context.Context, ups []Update) ([]Applied, []error) {
	out := make([]Applied, len(ups))
	errs := make([]error, len(ups))
	var calls []scriptCall
	byTenant := map[string]int{} // tenant → its call still being filled
	for i, u := range ups {
		c, ok := byTenant[u.Tenant]
		if !ok || len(calls[c].events) == maxPerScript {
			c = len(calls)
			calls = append(calls, scriptCall{tenant: u.Tenant})
			byTenant[u.Tenant] = c
		}
		calls[c].events = append(calls[c].events, i)
	}
	cmds := make([]*redis.Cmd, len(calls))
	_, _ = redisx.Pipelined(ctx, s.rdb, []*redisx.Script{applyScript}, func(p redis.Pipeliner) {
		for i, c := range calls {
			keys, args := s.scriptArgs(c, ups)
			cmds[i] = applyScript.Queue(ctx, p, keys, args...)
		}
	})
	for i, c := range calls {
		// Each command carries its own error, I/O errors included: one
		// tenant's failure is not another's.
		var replies []any
		cerr := cmds[i].Err()
		if cerr == nil {
			var ok bool
			if replies, ok = cmds[i].Val().([]any); !ok || len(replies) != len(c.events) {
				cerr = fmt.Errorf("unexpected reply %v", cmds[i].Val())
			}
		}
		for j, e := range c.events {
			if cerr != nil {
				errs[e] = fmt.Errorf("apply event %s/%s: %w", ups[e].Tenant, ups[e].EventID, cerr)
				continue
			}
			if out[e], errs[e] = parseApplied(ups[e].Customer, replies[j]); errs[e] != nil {
				errs[e] = fmt.Errorf("apply event %s/%s: %w", ups[e].Tenant, ups[e].EventID, errs[e])
			}
		}
	}
	return out, errs
}

// scriptCall is one run of apply.lua: some events of one tenant.
type scriptCall struct {
	tenant string
	events []int // indexes into the updates
}

// scriptArgs lays out the keys and arguments apply.lua takes.
func (s *Store) scriptArgs(c scriptCall, ups []Update) (keys []string, args []any) {
	n := len(c.events)
	keys = make([]string, 2*n, 2*n+4)
	var expiries []any
	bucketIndex := map[string]int{}
	now := s.now()
	bucket := func(g Granularity, at time.Time) int {
		end := g.Start(at).Add(g.Size() + s.retention(g))
		if !end.After(now) {
			return 0 // expired already: not written
		}
		key := bucketKey(c.tenant, g, g.Start(at))
		if i, ok := bucketIndex[key]; ok {
			return i
		}
		keys = append(keys, key)
		expiries = append(expiries, end.Unix())
		bucketIndex[key] = len(expiries)
		return len(expiries)
	}
	events := make([]any, 0, 10*n)
	for j, e := range c.events {
		u := ups[e]
		keys[j] = prefix(u.Tenant) + "seen:" + u.EventID
		keys[n+j] = customerKey(u.Tenant, u.Customer)
		complaint := "0"
		if u.Complaint {
			complaint = "1"
		}
		events = append(events, u.At.UnixMilli(), u.Experience, npsClass[u.NPSClass], complaint, u.EventID,
			u.Scores, u.Group.String(), u.Counts.Encode(), bucket(Hour, u.At), bucket(Day, u.At))
	}
	args = append(args, n, int64(s.cfg.DedupTTL/time.Second), s.cfg.HalfLife.Milliseconds(), s.cfg.HalfLife.Milliseconds()/4)
	args = append(args, expiries...)
	return keys, append(args, events...)
}

// ErrBadState marks an event whose customer state in Redis cannot be read:
// retrying cannot help.
var ErrBadState = errors.New("unreadable customer state")

func parseApplied(id string, v any) (Applied, error) {
	reply, ok := v.([]any)
	if !ok || len(reply) != 2 {
		return Applied{}, fmt.Errorf("unexpected reply %v", v)
	}
	if reply[0] == int64(2) {
		return Applied{}, fmt.Errorf("%w: %v", ErrBadState, reply[1])
	}
	values, ok := reply[1].([]any)
	if !ok || len(values) != 2 {
		return Applied{}, fmt.Errorf("unexpected customer %v", reply[1])
	}
	state, _ := values[0].(string)
	lastID, _ := values[1].(string)
	c := Customer{ID: id}
	var err error
	if state != "" { // a duplicate of a customer since erased has none
		c, err = parseCustomer(id, state, lastID, "")
	}
	return Applied{Duplicate: reply[0] == int64(1), Customer: c}, err
}

// Customer is one customer's rolling scores.
type Customer struct {
	ID string
	// Sum and Weight are Σw·x and Σw of the experience scores, with the
	// half-life; FastSum and FastWeight the same with a quarter of it.
	Sum, Weight, FastSum, FastWeight                      float64
	Feedback, Promoters, Passives, Detractors, Complaints int64
	LastAt                                                time.Time
	LastEventID                                           string
	LastScores                                            []byte
}

// Satisfaction is the decayed mean experience score, 0–100.
func (c Customer) Satisfaction() float64 {
	if c.Weight == 0 {
		return 0
	}
	return c.Sum / c.Weight
}

// Trend is the recent (fast-decaying) mean minus Satisfaction: positive
// when recent experiences are better than the long-run average.
func (c Customer) Trend() float64 {
	if c.FastWeight == 0 {
		return 0
	}
	return c.FastSum/c.FastWeight - c.Satisfaction()
}

// stateSize is the length of the packed state apply.lua keeps per customer:
// four doubles and seven int64s, little-endian.
const stateSize = 11 * 8

// parseCustomer reads the packed state (see apply.lua).
func parseCustomer(id, state, lastID, lastScores string) (Customer, error) {
	c := Customer{ID: id, LastEventID: lastID, LastScores: []byte(lastScores)}
	if len(state) != stateSize {
		return c, fmt.Errorf("customer %s: state of %d bytes, want %d", id, len(state), stateSize)
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64([]byte(state[8*i : 8*i+8])) }
	c.Sum, c.Weight = math.Float64frombits(word(1)), math.Float64frombits(word(2))
	c.FastSum, c.FastWeight = math.Float64frombits(word(3)), math.Float64frombits(word(4))
	c.Feedback, c.Promoters, c.Passives = int64(word(5)), int64(word(6)), int64(word(7))
	c.Detractors, c.Complaints = int64(word(8)), int64(word(9))
	c.LastAt = time.UnixMilli(int64(word(10))).UTC()
	return c, nil
}

// Customer reads one customer's scores; found is false when the customer has
// no scored feedback.
func (s *Store) Customer(ctx context.Context, tenant, id string) (c Customer, found bool, err error) {
	v, err := s.rdb.HMGet(ctx, customerKey(tenant, id), "state", "last_id", "last_scores").Result()
	if err != nil {
		return Customer{}, false, fmt.Errorf("read customer %s: %w", id, err)
	}
	state, _ := v[0].(string)
	if state == "" {
		return Customer{}, false, nil
	}
	lastID, _ := v[1].(string)
	lastScores, _ := v[2].(string)
	c, err = parseCustomer(id, state, lastID, lastScores)
	return c, true, err
}

// Erase deletes what the store holds about one customer (a CustomerErased
// tombstone): their customer hash. Report buckets are aggregates without
// customer ids and stay; guard keys hold only event ids and expire. Erasing
// a customer the store does not hold is not an error, so a redelivered
// tombstone is harmless.
func (s *Store) Erase(ctx context.Context, tenant, customer string) error {
	if err := s.rdb.Del(ctx, customerKey(tenant, customer)).Err(); err != nil {
		return fmt.Errorf("erase customer %s/%s: %w", tenant, customer, err)
	}
	return nil
}

// Bucket is one bucket's counters per group.
type Bucket struct {
	Start  time.Time
	Groups map[Group]rollup.Counts
}

// bucketsPerRead is how many buckets one pipeline reads: a long report reads
// in several pipelines at once, so decoding the replies uses every core.
const bucketsPerRead = 96

// Buckets reads the tenant's buckets of size g starting at starts. A bucket
// without events (or past retention) has no groups.
func (s *Store) Buckets(ctx context.Context, tenant string, g Granularity, starts []time.Time) ([]Bucket, error) {
	out := make([]Bucket, len(starts))
	errs := make([]error, (len(starts)+bucketsPerRead-1)/bucketsPerRead)
	var wg sync.WaitGroup
	for i := range errs {
		lo, hi := i*bucketsPerRead, min((i+1)*bucketsPerRead, len(starts))
		wg.Go(func() { errs[i] = s.readBuckets(ctx, tenant, g, starts[lo:hi], out[lo:hi]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read %s buckets: %w", g.name(), err)
	}
	return out, nil
}

func (s *Store) readBuckets(ctx context.Context, tenant string, g Granularity, starts []time.Time, out []Bucket) error {
	cmds := make([]*redis.MapStringStringCmd, len(starts))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range starts {
			cmds[i] = p.HGetAll(ctx, bucketKey(tenant, g, st))
		}
		return nil
	}); err != nil {
		return err
	}
	for i, c := range cmds {
		out[i] = Bucket{Start: starts[i], Groups: make(map[Group]rollup.Counts, len(c.Val()))}
		for field, v := range c.Val() {
			if field == totalField {
				continue
			}
			grp, err := parseGroup(field)
			if err != nil {
				return err
			}
			if out[i].Groups[grp], err = rollup.Decode(v); err != nil {
				return fmt.Errorf("bucket %s field %s: %w", bucketKey(tenant, g, starts[i]), field, err)
			}
		}
	}
	return nil
}

// totalField holds an hour bucket's total over all groups.
const totalField = "*"

// HourTotals reads each hour bucket's total over all groups, as the only
// group (the zero Group): much less to read than Buckets when a report needs
// neither filters nor groups. g must be Hour (it is a parameter so that the
// two reads are interchangeable); day buckets have no total field, as a
// report reads at most a few hundred of them.
func (s *Store) HourTotals(ctx context.Context, tenant string, g Granularity, starts []time.Time) ([]Bucket, error) {
	if g != Hour {
		return nil, fmt.Errorf("only hour buckets have totals, not %s buckets", g.name())
	}
	cmds := make([]*redis.StringCmd, len(starts))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range starts {
			cmds[i] = p.HGet(ctx, bucketKey(tenant, g, st), totalField)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read hour bucket totals: %w", err)
	}
	out := make([]Bucket, len(starts))
	for i, c := range cmds {
		out[i] = Bucket{Start: starts[i], Groups: map[Group]rollup.Counts{}}
		if errors.Is(c.Err(), redis.Nil) { // no events in this bucket
			continue
		}
		if c.Err() != nil {
			return nil, fmt.Errorf("read hour bucket totals: %w", c.Err())
		}
		total, err := rollup.Decode(c.Val())
		if err != nil {
			return nil, fmt.Errorf("bucket %s total: %w", bucketKey(tenant, g, starts[i]), err)
		}
		out[i].Groups[Group{}] = total
	}
	return out, nil
}

// Proto is the API form of c, without the latest scores (LatestScores).
func (c Customer) Proto() *scoringv1.CustomerScores {
	p := &scoringv1.CustomerScores{
		CustomerId:          c.ID,
		DecayedSatisfaction: c.Satisfaction(),
		SatisfactionTrend:   c.Trend(),
		FeedbackCount:       c.Feedback,
		PromoterCount:       c.Promoters,
		PassiveCount:        c.Passives,
		DetractorCount:      c.Detractors,
		ComplaintCount:      c.Complaints,
		LastEventId:         c.LastEventID,
	}
	if !c.LastAt.IsZero() {
		p.LastFeedbackAt = timestamppb.New(c.LastAt)
	}
	return p
}

// LatestScores decodes the scores of the customer's latest feedback; nil
// when there is none.
func (c Customer) LatestScores() (*scoringv1.Scores, error) {
	if len(c.LastScores) == 0 {
		return nil, nil
	}
	s := new(scoringv1.Scores)
	if err := proto.Unmarshal(c.LastScores, s); err != nil {
		return nil, fmt.Errorf("customer %s: latest scores: %w", c.ID, err)
	}
	return s, nil
}
