package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"

	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/casepb"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// Page sizes of ListAlerts: the size of a request that sets none, and the
// largest (the proto rejects larger ones).
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ListAlerts lists the caller's cases that match the filters, newest
// opened first. Severity and tier are filtered while reading an index, so
// a page may come back short — even empty — with a next_page_token when
// the call reached its scan bound (see store.List): the client goes on
// until the token is empty.
func (s *Service) ListAlerts(ctx context.Context, req *alertingv1.ListAlertsRequest) (*alertingv1.ListAlertsResponse, error) {
	f, violations := listFilter(req)
	if len(violations) > 0 {
		return nil, grpcx.InvalidArgument(violations).Err()
	}
	q := store.Query{Filter: f, Limit: pageSize(req.GetPageSize())}
	if t := req.GetPageToken(); t != "" {
		after, err := decodeToken(t, f)
		if err != nil {
			return nil, grpcx.InvalidArgument([]*grpcx.FieldViolation{{Field: "page_token", Description: err.Error()}}).Err()
		}
		q.After = &after
	}
	found, next, err := s.store.List(ctx, grpcx.Tenant(ctx), q)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	resp := &alertingv1.ListAlertsResponse{Cases: make([]*alertingv1.RecoveryCase, len(found))}
	for i, c := range found {
		resp.Cases[i] = casepb.Case(c)
	}
	if next != nil {
		resp.NextPageToken = encodeToken(*next, f)
	}
	return resp, nil
}

func pageSize(n int32) int {
	if n <= 0 {
		return DefaultPageSize
	}
	return int(min(n, MaxPageSize))
}

// listFilter is the store's filter for req, its states sorted and without
// repeats so that equal filters make equal page tokens.
func listFilter(req *alertingv1.ListAlertsRequest) (store.Filter, []*grpcx.FieldViolation) {
	var violations []*grpcx.FieldViolation
	f := store.Filter{MinSeverity: alert.Severity(req.GetMinSeverity()), CustomerID: req.GetCustomerId(), Tier: req.GetTier()}
	for i, st := range req.GetStates() {
		s := cases.State(st)
		if s <= cases.NoState || s > cases.Resolved {
			violations = append(violations, &grpcx.FieldViolation{Field: fmt.Sprintf("states[%d]", i), Description: "must be open, acknowledged or resolved"})
			continue
		}
		f.States = append(f.States, s)
	}
	slices.Sort(f.States)
	f.States = slices.Compact(f.States)
	if sev := f.MinSeverity; sev < alert.NoSeverity || sev > alert.Critical {
		violations = append(violations, &grpcx.FieldViolation{Field: "min_severity", Description: "must be a severity"})
	}
	return f, violations
}

// pageToken is what a next_page_token holds: the filters it was made for
// and where the page ended. Base64 JSON: opaque to clients, not secret
// (it names a case of the caller's own).
type pageToken struct {
	States      []cases.State  `json:"s,omitempty"`
	MinSeverity alert.Severity `json:"v,omitempty"`
	CustomerID  string         `json:"c,omitempty"`
	Tier        string         `json:"t,omitempty"`
	Opened      int64          `json:"o"`
	ID          string         `json:"i"`
}

func encodeToken(c store.Cursor, f store.Filter) string {
	b, _ := json.Marshal(pageToken{ // cannot fail: strings and numbers
		States: f.States, MinSeverity: f.MinSeverity, CustomerID: f.CustomerID, Tier: f.Tier,
		Opened: c.Opened, ID: c.ID,
	})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken reads a token made for the filter f.
func decodeToken(token string, f store.Filter) (store.Cursor, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.ID == "" {
		return store.Cursor{}, errors.New("not a page token this service gave")
	}
	if !slices.Equal(t.States, f.States) || t.MinSeverity != f.MinSeverity || t.CustomerID != f.CustomerID || t.Tier != f.Tier {
		return store.Cursor{}, errors.New("a page token of a request with other filters: pass the same filters as the first page")
	}
	return store.Cursor{Opened: t.Opened, ID: t.ID}, nil
}
