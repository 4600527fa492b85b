package main

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"

	"github.com/feedloop/feedloop/cmd/internal/traffic"
)

func TestSplitIntoCalls(t *testing.T) {
	fb := func(id string) traffic.Event { return traffic.Event{Feedback: &intakev1.Feedback{EventId: id}} }
	buy := func(id string) traffic.Event { return traffic.Event{Activity: &intakev1.Activity{EventId: id}} }
	tests := []struct {
		name   string
		events []traffic.Event
		batch  int
		want   [][]string
	}{
		{"one by one", []traffic.Event{fb("a"), buy("b"), fb("c")}, 1, [][]string{{"a"}, {"b"}, {"c"}}},
		{"feedback and purchases batched apart", []traffic.Event{fb("a"), buy("b"), fb("c"), buy("d")}, 10, [][]string{{"b", "d"}, {"a", "c"}}},
		{"only purchases", []traffic.Event{buy("a"), buy("b")}, 10, [][]string{{"a", "b"}}},
	}
	for _, tt := range tests {
		var got [][]string
		for _, call := range split(tt.events, tt.batch) {
			var ids []string
			for _, ev := range call {
				ids = append(ids, ev.EventID())
			}
			got = append(got, ids)
		}
		if !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: calls %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		dup  bool
		err  error
		want outcome
	}{
		{false, nil, accepted},
		{true, nil, duplicate},
		{false, status.Error(codes.InvalidArgument, "nps"), rejected},
		{false, status.Error(codes.Unavailable, "down"), failed},
		{false, status.Error(codes.ResourceExhausted, "slow down"), failed},
		{false, errors.New("not a status"), failed},
	}
	for _, tt := range tests {
		if got, _ := verdict(tt.dup, tt.err); got != tt.want {
			t.Errorf("verdict(%v, %v) = %v, want %v", tt.dup, tt.err, got, tt.want)
		}
	}
}

func TestCodeName(t *testing.T) {
	for code, want := range map[codes.Code]string{
		codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.Unavailable:       "UNAVAILABLE",
		codes.DeadlineExceeded:  "DEADLINE_EXCEEDED",
		codes.Canceled:          "CANCELLED",
	} {
		if got := codeName(code); got != want {
			t.Errorf("codeName(%v) = %q, want %q", code, got, want)
		}
	}
}

// TestWatchMatchesChangesToEvents feeds case changes to the matcher as
// WatchAlerts would deliver them.
func TestWatchMatchesChangesToEvents(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name          string
		expected      map[string]time.Duration // event id → sent this long ago
		forget        []string
		first, latest string // the case's event ids
		wantMatch     bool
		wantLatency   time.Duration
	}{
		{"latest event", map[string]time.Duration{"e1": 40 * time.Millisecond}, nil, "e0", "e1", true, 40 * time.Millisecond},
		{"first event", map[string]time.Duration{"e1": 30 * time.Millisecond}, nil, "e1", "", true, 30 * time.Millisecond},
		{"tier change it caused", map[string]time.Duration{"e1": 20 * time.Millisecond}, nil, "e1/tier_changed", "e1/tier_changed", true, 20 * time.Millisecond},
		{"someone else's event", map[string]time.Duration{"e1": time.Millisecond}, nil, "x", "y", false, 0},
		{"not stored", map[string]time.Duration{"e1": time.Millisecond}, []string{"e1"}, "e1", "e1", false, 0},
		{"waited too long", map[string]time.Duration{"e1": matchWindow + time.Second, "e2": 0}, nil, "e1", "e1", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(nil)
			w := &watch{rec: rec, pending: map[string]time.Time{}}
			ids := make([]string, 0, len(tt.expected))
			for id := range tt.expected {
				ids = append(ids, id)
			}
			slices.SortFunc(ids, func(a, b string) int { return int(tt.expected[b] - tt.expected[a]) }) // oldest first
			for _, id := range ids {
				w.expect(id, now.Add(-tt.expected[id]))
			}
			for _, id := range tt.forget {
				w.forget(id)
			}
			w.seen(&alertingv1.RecoveryCase{FirstEventId: tt.first, LatestEventId: tt.latest}, now)
			// A second change caused by the same event is not measured again.
			w.seen(&alertingv1.RecoveryCase{FirstEventId: tt.first, LatestEventId: tt.latest}, now)
			if rec.e2eChanges != 2 {
				t.Errorf("changes = %d, want 2", rec.e2eChanges)
			}
			if got := rec.e2eMatched == 1; got != tt.wantMatch || rec.e2eMatched > 1 {
				t.Fatalf("matched %d, want match %v", rec.e2eMatched, tt.wantMatch)
			}
			if tt.wantMatch && rec.e2e.max != tt.wantLatency {
				t.Errorf("latency = %v, want %v", rec.e2e.max, tt.wantLatency)
			}
		})
	}
}
