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
//	fl:{<tenant>}:scoring:customer:<id>      hash: decayed sums, counts, latest scores
//	fl:{<tenant>}:scoring:hour:<unix start>  hash: group → counters (rollup format)
//	fl:{<tenant>}:scoring:day:<unix start>   the same per UTC day
package store

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
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
	// then the customer's current state.
	Duplicate bool
	Customer  Customer
}

var classCounter = map[score.NPSClass]string{
	score.Promoter: "promoters", score.Passive: "passives", score.Detractor: "detractors",
}

// Apply applies the updates in one round trip and returns each one's
// outcome or error, in order.
func (s *Store) Apply(ctx context.Context, ups []Update) ([]Applied, []error) {
	out := make([]Applied, len(ups))
	errs := make([]error, len(ups))
	cmds := make([]*redis.Cmd, len(ups))
	now := s.now()
	expiry := func(g Granularity, at time.Time) string {
		end := g.Start(at).Add(g.Size() + s.retention(g))
		if !end.After(now) {
			return "0"
		}
		return strconv.FormatInt(end.Unix(), 10)
	}
	_, err := redisx.Pipelined(ctx, s.rdb, []*redisx.Script{applyScript}, func(p redis.Pipeliner) {
		for i, u := range ups {
			complaint := "0"
			if u.Complaint {
				complaint = "1"
			}
			cmds[i] = applyScript.Queue(ctx, p, []string{
				prefix(u.Tenant) + "seen:" + u.EventID,
				customerKey(u.Tenant, u.Customer),
				bucketKey(u.Tenant, Hour, Hour.Start(u.At)),
				bucketKey(u.Tenant, Day, Day.Start(u.At)),
			},
				int64(s.cfg.DedupTTL/time.Second), u.At.UnixMilli(), u.Experience,
				s.cfg.HalfLife.Milliseconds(), s.cfg.HalfLife.Milliseconds()/4,
				classCounter[u.NPSClass], complaint, u.EventID, u.Scores,
				u.Group.String(), u.Counts.String(), expiry(Hour, u.At), expiry(Day, u.At))
		}
	})
	for i, u := range ups {
		if cmds[i] == nil || cmds[i].Err() != nil {
			errs[i] = fmt.Errorf("apply event %s/%s: %w", u.Tenant, u.EventID, firstErr(cmds[i], err))
			continue
		}
		out[i], errs[i] = parseApplied(u.Customer, cmds[i].Val())
	}
	return out, errs
}

func firstErr(c *redis.Cmd, err error) error {
	if c != nil && c.Err() != nil {
		return c.Err()
	}
	return err
}

func parseApplied(id string, v any) (Applied, error) {
	reply, ok := v.([]any)
	if !ok || len(reply) != 2 {
		return Applied{}, fmt.Errorf("apply: unexpected reply %v", v)
	}
	flat, ok := reply[1].([]any)
	if !ok {
		return Applied{}, fmt.Errorf("apply: unexpected customer %v", reply[1])
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		fields[k] = v
	}
	c, err := parseCustomer(id, fields)
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

func parseCustomer(id string, f map[string]string) (Customer, error) {
	c := Customer{ID: id, LastEventID: f["last_id"], LastScores: []byte(f["last_scores"])}
	var err error
	float := func(name string) float64 {
		v, e := strconv.ParseFloat(f[name], 64)
		if e != nil && f[name] != "" && err == nil {
			err = fmt.Errorf("customer %s: field %s: %w", id, name, e)
		}
		return v
	}
	count := func(name string) int64 { return int64(float(name)) }
	c.Sum, c.Weight, c.FastSum, c.FastWeight = float("sum"), float("weight"), float("fast_sum"), float("fast_weight")
	c.Feedback, c.Promoters, c.Passives = count("feedback"), count("promoters"), count("passives")
	c.Detractors, c.Complaints = count("detractors"), count("complaints")
	if ms := count("last_ms"); f["last_ms"] != "" {
		c.LastAt = time.UnixMilli(ms).UTC()
	}
	return c, err
}

// Customer reads one customer's scores; found is false when the customer has
// no scored feedback.
func (s *Store) Customer(ctx context.Context, tenant, id string) (c Customer, found bool, err error) {
	f, err := s.rdb.HGetAll(ctx, customerKey(tenant, id)).Result()
	if err != nil {
		return Customer{}, false, fmt.Errorf("read customer %s: %w", id, err)
	}
	if len(f) == 0 {
		return Customer{}, false, nil
	}
	c, err = parseCustomer(id, f)
	return c, true, err
}

// Bucket is one bucket's counters per group.
type Bucket struct {
	Start  time.Time
	Groups map[Group]rollup.Counts
}

// Buckets reads the tenant's buckets of size g starting at starts, in one
// round trip. A bucket without events (or past retention) has no groups.
func (s *Store) Buckets(ctx context.Context, tenant string, g Granularity, starts []time.Time) ([]Bucket, error) {
	cmds := make([]*redis.MapStringStringCmd, len(starts))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, st := range starts {
			cmds[i] = p.HGetAll(ctx, bucketKey(tenant, g, st))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s buckets: %w", g.name(), err)
	}
	out := make([]Bucket, len(starts))
	for i, c := range cmds {
		out[i] = Bucket{Start: starts[i], Groups: make(map[Group]rollup.Counts, len(c.Val()))}
		for field, v := range c.Val() {
			grp, err := parseGroup(field)
			if err != nil {
				return nil, err
			}
			if out[i].Groups[grp], err = rollup.Parse(v); err != nil {
				return nil, fmt.Errorf("bucket %s field %s: %w", bucketKey(tenant, g, starts[i]), field, err)
			}
		}
	}
	return out, nil
}

// Proto is the API form of c.
func (c Customer) Proto() (*scoringv1.CustomerScores, error) {
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
	if len(c.LastScores) > 0 {
		p.LastScores = new(scoringv1.Scores)
		if err := proto.Unmarshal(c.LastScores, p.LastScores); err != nil {
			return nil, fmt.Errorf("customer %s: latest scores: %w", c.ID, err)
		}
	}
	return p, nil
}
