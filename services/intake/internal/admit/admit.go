// Package admit decides what intake accepts beyond the proto's rules, and
// completes accepted events: the checks that need the clock or configuration,
// and the defaults the server fills in. Pure functions, no I/O.
package admit

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/feedloop/feedloop/pkg/grpcx"
)

// Policy bounds the event times intake accepts.
type Policy struct {
	// MaxAge is the horizon: events older than this are rejected.
	MaxAge time.Duration
	// MaxSkew is how far in the future an event time may lie (client clocks
	// run fast).
	MaxSkew time.Duration
}

// CheckTime reports a violation of field when t is set and lies beyond the
// policy's bounds around now.
func (p Policy) CheckTime(t *timestamppb.Timestamp, now time.Time, field string) []*grpcx.FieldViolation {
	if t == nil {
		return nil
	}
	if err := t.CheckValid(); err != nil {
		return []*grpcx.FieldViolation{{Field: field, Description: "must be a valid timestamp", Reason: "timestamp.valid"}}
	}
	switch at := t.AsTime(); {
	case at.After(now.Add(p.MaxSkew)):
		return []*grpcx.FieldViolation{{Field: field, Description: "must not be in the future (allowed clock skew " + p.MaxSkew.String() + ")", Reason: "timestamp.future"}}
	case at.Before(now.Add(-p.MaxAge)):
		return []*grpcx.FieldViolation{{Field: field, Description: "must not be older than " + p.MaxAge.String(), Reason: "timestamp.horizon"}}
	}
	return nil
}

// Complete fills in what the client may leave out: a UUIDv7 event id and the
// receive time as occurred_at. It reports whether the client chose the id
// (only client ids can repeat).
func Complete(eventID *string, occurredAt **timestamppb.Timestamp, now time.Time) (clientID bool) {
	if *occurredAt == nil {
		*occurredAt = timestamppb.New(now)
	}
	if *eventID != "" {
		return true
	}
	*eventID = uuid.Must(uuid.NewV7()).String()
	return false
}
