// Package api implements the SegmentationService: a customer's profile and
// tier with the reasons, customers listed by tier, risk or value, the tier
// report, and erasure.
package api

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/events/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/segmentation/internal/segment"
	"github.com/feedloop/feedloop/services/segmentation/internal/store"
)

// DefaultPageSize is ListCustomers' page size when the request sets none.
const DefaultPageSize = 50

// Service is the SegmentationService.
type Service struct {
	segmentationv1.UnimplementedSegmentationServiceServer

	eval  *segment.Evaluator
	store *store.Store
	pub   *bus.Publisher
	now   func() time.Time
}

// New returns the service.
func New(eval *segment.Evaluator, st *store.Store, pub *bus.Publisher, now func() time.Time) *Service {
	return &Service{eval: eval, store: st, pub: pub, now: now}
}

// storeError is the status for a store failure.
func storeError(err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return status.Error(codes.Internal, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// GetCustomer returns the customer's profile as last evaluated.
func (s *Service) GetCustomer(ctx context.Context, req *segmentationv1.GetCustomerRequest) (*segmentationv1.GetCustomerResponse, error) {
	tenant, id := grpcx.Tenant(ctx), req.GetCustomerId()
	r, found, err := s.store.Record(ctx, tenant, id)
	if err != nil {
		return nil, storeError(err)
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "no customer %q", id)
	}
	return &segmentationv1.GetCustomerResponse{Profile: segment.Proto(id, &r, s.eval.At(tenant, &r))}, nil
}

// ListCustomers pages through the indexes.
func (s *Service) ListCustomers(ctx context.Context, req *segmentationv1.ListCustomersRequest) (*segmentationv1.ListCustomersResponse, error) {
	tenant := grpcx.Tenant(ctx)
	q := store.Query{Tier: req.GetTier(), MinRisk: req.GetMinChurnRisk(), Limit: int(req.GetPageSize())}
	if q.Limit == 0 {
		q.Limit = DefaultPageSize
	}
	if req.GetOrderBy() == segmentationv1.CustomerOrder_CUSTOMER_ORDER_VALUE {
		q.Order = store.ByValue
	}
	if t := req.GetPageToken(); t != "" {
		var err error
		if q.After, err = parseToken(t, pageFilter(req)); err != nil {
			return nil, grpcx.InvalidArgument([]*errdetails.BadRequest_FieldViolation{{Field: "page_token", Description: err.Error()}}).Err()
		}
	}
	ids, next, err := s.store.List(ctx, tenant, q)
	if err != nil {
		return nil, storeError(err)
	}
	loaded, err := s.store.Load(ctx, tenant, ids, nil)
	if err != nil {
		return nil, storeError(err)
	}
	resp := &segmentationv1.ListCustomersResponse{Customers: make([]*segmentationv1.CustomerProfile, 0, len(ids))}
	for i, id := range ids {
		if l := &loaded[i]; l.Found && l.Corrupt == nil { // erased between the two reads otherwise
			resp.Customers = append(resp.Customers, segment.Proto(id, &l.Record, s.eval.At(tenant, &l.Record)))
		}
	}
	if next != nil {
		resp.NextPageToken = token(next, pageFilter(req))
	}
	return resp, nil
}

// pageFilter is what a page token must have been made for: the same
// filters and order.
func pageFilter(req *segmentationv1.ListCustomersRequest) string {
	return fmt.Sprintf("%d|%s|%g", req.GetOrderBy(), req.GetTier(), req.GetMinChurnRisk())
}

func token(c *store.Cursor, filter string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(filter + "|" + strconv.FormatFloat(c.Score, 'g', -1, 64) + "|" + c.ID))
}

func parseToken(t, filter string) (*store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	rest, ok := strings.CutPrefix(string(b), filter+"|")
	if err != nil || !ok {
		return nil, errors.New("not a page token of a request with these filters and order")
	}
	score, id, ok := strings.Cut(rest, "|")
	f, err := strconv.ParseFloat(score, 64)
	if !ok || err != nil || id == "" {
		return nil, errors.New("malformed page token")
	}
	return &store.Cursor{Score: f, ID: id}, nil
}

// GetTierReport summarises each tier with customers, in rule order.
func (s *Service) GetTierReport(ctx context.Context, _ *segmentationv1.GetTierReportRequest) (*segmentationv1.GetTierReportResponse, error) {
	counters, err := s.store.Report(ctx, grpcx.Tenant(ctx))
	if err != nil {
		return nil, storeError(err)
	}
	order := s.eval.Rules().Names()
	rank := func(tier string) int {
		if i := slices.Index(order, tier); i >= 0 {
			return i
		}
		return len(order) // a tier of an earlier rule file
	}
	tiers := slices.SortedFunc(maps.Keys(counters), func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
	})
	resp := &segmentationv1.GetTierReportResponse{}
	for _, tier := range tiers {
		c := counters[tier]
		if c.Customers == 0 {
			continue
		}
		sum := &segmentationv1.TierSummary{
			Tier: tier, Customers: c.Customers,
			Promoters: c.Promoters, Passives: c.Passives, Detractors: c.Detractors,
			MeanChurnRisk: c.RiskSum / float64(c.Customers),
			HighValue:     c.High, MediumValue: c.Medium, LowValue: c.Low,
		}
		if c.Rated > 0 {
			sum.MeanSatisfaction = c.SatisfactionSum / float64(c.Rated)
		}
		if answered := c.Promoters + c.Passives + c.Detractors; answered > 0 {
			nps := 100 * float64(c.Promoters-c.Detractors) / float64(answered)
			sum.Nps = &nps
		}
		resp.Tiers = append(resp.Tiers, sum)
		resp.Customers += c.Customers
	}
	return resp, nil
}

// EraseCustomer deletes the customer's record and index entries, leaves a
// tombstone (a hash of the id) so that their earlier events still in
// flight are not applied again, and publishes CustomerErased so that the
// other services purge theirs. The tombstone is published even when there
// was nothing here to erase, so a retry after a failed publish completes
// the erasure.
func (s *Service) EraseCustomer(ctx context.Context, req *segmentationv1.EraseCustomerRequest) (*segmentationv1.EraseCustomerResponse, error) {
	tenant, id := grpcx.Tenant(ctx), req.GetCustomerId()
	now := s.now()
	erased := false
	for attempt := 0; ; attempt++ {
		loaded, err := s.store.Load(ctx, tenant, []string{id}, nil)
		if err != nil {
			return nil, storeError(err)
		}
		l := loaded[0]
		done, err := s.store.Commit(ctx, tenant, []store.Write{{Customer: id, Loaded: &l, Now: now}})
		if err != nil {
			return nil, storeError(err)
		}
		if done[0] {
			erased = l.Found
			break
		}
		if attempt == 4 {
			return nil, status.Errorf(codes.Aborted, "customer %q kept changing; try again", id)
		}
	}
	_, err := s.pub.Publish(ctx, bus.Outgoing{
		Subject: bus.Subject(bus.CustomerErased, tenant),
		ID:      tenant + "/erase/" + id + "/" + strconv.FormatInt(now.UnixMilli(), 10),
		Msg:     &eventsv1.CustomerErased{TenantId: tenant, CustomerId: id, ErasedAt: timestamppb.New(now)},
	})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "erased here, but the other services were not told (retry): %v", err)
	}
	return &segmentationv1.EraseCustomerResponse{Erased: erased}, nil
}
