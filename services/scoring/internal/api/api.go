// Package api implements the ScoringService: a customer's rolling scores and
// experience reports over the tenant's buckets.
package api

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
	scoringv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/scoring/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/scoring/internal/rollup"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// MaxBuckets bounds the buckets one report reads (a year of days, or 40
// days of hours with room to spare).
const MaxBuckets = 1000

// DefaultWindow is the report window when the request gives no start.
const DefaultWindow = 7 * 24 * time.Hour

// Service is the ScoringService.
type Service struct {
	scoringv1.UnimplementedScoringServiceServer

	store   *store.Store
	weights [score.NumDimensions]float64
	now     func() time.Time
}

// New returns the service; weights are the SERVQUAL dimension weights used
// for a report's overall gap.
func New(st *store.Store, weights [score.NumDimensions]float64) *Service {
	return &Service{store: st, weights: weights, now: time.Now}
}

// GetCustomerScores returns the calling tenant's customer's rolling scores.
func (s *Service) GetCustomerScores(ctx context.Context, req *scoringv1.GetCustomerScoresRequest) (*scoringv1.GetCustomerScoresResponse, error) {
	c, found, err := s.store.Customer(ctx, grpcx.Tenant(ctx), req.GetCustomerId())
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "customer %q has no scored feedback", req.GetCustomerId())
	}
	p := c.Proto()
	if p.LastScores, err = c.LatestScores(); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &scoringv1.GetCustomerScoresResponse{Scores: p}, nil
}

// rowKey identifies a report row.
type rowKey struct {
	start      time.Time
	channel    int32
	touchpoint string
}

// GetExperienceReport sums the tenant's buckets over the window.
func (s *Service) GetExperienceReport(ctx context.Context, req *scoringv1.GetExperienceReportRequest) (*scoringv1.GetExperienceReportResponse, error) {
	end := s.now()
	if req.GetEndTime() != nil {
		end = req.GetEndTime().AsTime()
	}
	start := end.Add(-DefaultWindow)
	if req.GetStartTime() != nil {
		start = req.GetStartTime().AsTime()
	}
	if !start.Before(end) {
		return nil, grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: "start_time", Description: "must be before end_time"}}).Err()
	}
	size := store.Hour
	if req.GetGranularity() == scoringv1.Granularity_GRANULARITY_DAY {
		size = store.Day
	}
	totalOnly := req.GetGranularity() == scoringv1.Granularity_GRANULARITY_UNSPECIFIED
	spans := plan(start, end, size, totalOnly)
	n := 0
	for _, sp := range spans {
		n += sp.count
	}
	// Hour buckets expire before day buckets: refuse a window that needs
	// hours no longer kept rather than undercount it.
	oldest := s.store.OldestHour()
	for i, sp := range spans {
		if sp.g == store.Hour && sp.count > 0 && sp.first.Before(oldest) {
			field := "start_time"
			if i > 0 {
				field = "end_time"
			}
			return nil, grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: field, Description: fmt.Sprintf(
				"hour buckets are kept from %s on; before that, start and end the window at UTC midnight or ask for day rows",
				oldest.Format(time.RFC3339))}}).Err()
		}
	}
	if n > MaxBuckets {
		return nil, grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: "start_time",
			Description: "window too long for its granularity: it spans more than 1000 buckets"}}).Err()
	}

	tenant := grpcx.Tenant(ctx)
	grouped := req.GetGroupByChannel() || req.GetGroupByTouchpoint()
	filtered := req.GetChannel() != intakev1.Channel_CHANNEL_UNSPECIFIED || req.GetTouchpoint() != ""
	var total rollup.Counts
	rows := map[rowKey]*rollup.Counts{}
	addTo := func(k rowKey, c rollup.Counts) {
		if rows[k] == nil {
			rows[k] = new(rollup.Counts)
		}
		rows[k].Add(c)
	}
	for _, sp := range spans {
		read := s.store.Buckets
		if !grouped && !filtered && sp.g == store.Hour {
			read = s.store.HourTotals // each hour's total is all it takes
		}
		buckets, err := read(ctx, tenant, sp.g, sp.starts())
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		for _, b := range buckets {
			if !totalOnly && !grouped {
				addTo(rowKey{start: b.Start}, rollup.Counts{}) // a row per bucket, even an empty one
			}
			for g, c := range b.Groups {
				if ch := req.GetChannel(); ch != intakev1.Channel_CHANNEL_UNSPECIFIED && int32(ch) != g.Channel {
					continue
				}
				if tp := req.GetTouchpoint(); tp != "" && tp != g.Touchpoint {
					continue
				}
				total.Add(c)
				if totalOnly && !grouped {
					continue
				}
				var k rowKey
				if !totalOnly {
					k.start = b.Start
				}
				if req.GetGroupByChannel() {
					k.channel = g.Channel
				}
				if req.GetGroupByTouchpoint() {
					k.touchpoint = g.Touchpoint
				}
				addTo(k, c)
			}
		}
	}

	resp := &scoringv1.GetExperienceReportResponse{Total: s.summary(total)}
	keys := make([]rowKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rowKey) int {
		return cmp.Or(a.start.Compare(b.start), cmp.Compare(a.channel, b.channel), cmp.Compare(a.touchpoint, b.touchpoint))
	})
	for _, k := range keys {
		row := &scoringv1.ExperienceReportRow{Channel: intakev1.Channel(k.channel), Touchpoint: k.touchpoint, Summary: s.summary(*rows[k])}
		if !k.start.IsZero() {
			row.BucketStart = timestamppb.New(k.start)
		}
		resp.Rows = append(resp.Rows, row)
	}
	return resp, nil
}

func (s *Service) summary(c rollup.Counts) *scoringv1.ExperienceSummary {
	sum := rollup.Summarize(c, s.weights)
	out := &scoringv1.ExperienceSummary{
		Responses:        sum.Responses,
		Promoters:        sum.Promoters,
		Passives:         sum.Passives,
		Detractors:       sum.Detractors,
		Nps:              sum.NPS,
		NpsMarginOfError: sum.NPSMargin,
		Csat:             sum.CSAT,
		Ces:              sum.CES,
		Sentiment:        sum.Sentiment,
		Complaints:       sum.Complaints,
		ComplaintRate:    sum.ComplaintRate,
		ExperienceScore:  sum.Experience,
		WeakestDimension: sum.Weakest,
	}
	if sum.Weighted != nil {
		out.Servqual = &scoringv1.ServqualGaps{
			Reliability:    sum.Gaps[score.Reliability],
			Responsiveness: sum.Gaps[score.Responsiveness],
			Assurance:      sum.Gaps[score.Assurance],
			Empathy:        sum.Gaps[score.Empathy],
			Tangibles:      sum.Gaps[score.Tangibles],
			Weighted:       sum.Weighted,
		}
	}
	return out
}
