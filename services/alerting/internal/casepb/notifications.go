package casepb

import (
	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/services/alerting/internal/store"
)

// ValueLevelName is the domain's name of a value level ("" when unset).
func ValueLevelName(v segmentationv1.ValueLevel) string {
	for name, level := range valueLevels {
		if level == v {
			return name
		}
	}
	return ""
}

// Notifications sums a case's attempts up per delivery (a change to a
// receiver), in the order of their first attempts: how many attempts, and
// how the last one ended.
func Notifications(attempts []store.Attempt) []*alertingv1.Notification {
	var out []*alertingv1.Notification
	index := map[string]*alertingv1.Notification{}
	for _, a := range attempts {
		key := a.ChangeID + "/" + a.Receiver
		n := index[key]
		if n == nil {
			n = &alertingv1.Notification{Receiver: a.Receiver, Trigger: ChangeType(a.Change)}
			index[key] = n
			out = append(out, n)
		}
		n.Attempts++
		n.SentAt = stamp(a.At)
		n.Success = a.Outcome == store.Sent
		n.Error = a.Error
		if a.Outcome == store.Skipped {
			n.Error = "skipped: the receiver does not take this change"
		}
	}
	return out
}
