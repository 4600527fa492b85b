package admit

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestCheckTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := Policy{MaxAge: 365 * 24 * time.Hour, MaxSkew: 5 * time.Minute}
	for _, tc := range []struct {
		name   string
		t      *timestamppb.Timestamp
		reason string
	}{
		{"unset", nil, ""},
		{"now", timestamppb.New(now), ""},
		{"within skew", timestamppb.New(now.Add(4 * time.Minute)), ""},
		{"future", timestamppb.New(now.Add(6 * time.Minute)), "timestamp.future"},
		{"at horizon", timestamppb.New(now.Add(-365 * 24 * time.Hour)), ""},
		{"beyond horizon", timestamppb.New(now.Add(-366 * 24 * time.Hour)), "timestamp.horizon"},
		{"invalid", &timestamppb.Timestamp{Seconds: 1, Nanos: -1}, "timestamp.valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := p.CheckTime(tc.t, now, "feedback.occurred_at")
			switch {
			case tc.reason == "" && len(v) != 0:
				t.Errorf("violations = %v, want none", v)
			case tc.reason != "" && (len(v) != 1 || v[0].Reason != tc.reason || v[0].Field != "feedback.occurred_at"):
				t.Errorf("violations = %v, want one %s on feedback.occurred_at", v, tc.reason)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	id, at := "", (*timestamppb.Timestamp)(nil)
	if Complete(&id, &at, now) {
		t.Error("server-assigned id reported as the client's")
	}
	if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
		t.Errorf("id %q is not a UUIDv7", id)
	}
	if !at.AsTime().Equal(now) {
		t.Errorf("occurred_at = %v, want %v", at.AsTime(), now)
	}
	given := timestamppb.New(now.Add(-time.Hour))
	id, at = "order-7", given
	if !Complete(&id, &at, now) || id != "order-7" || at != given {
		t.Errorf("client values changed: %q %v", id, at)
	}
}
