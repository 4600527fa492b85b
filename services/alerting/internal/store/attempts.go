package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

// Outcome is how an attempt to notify a receiver ended.
type Outcome string

// Outcomes.
const (
	Sent    Outcome = "sent"
	Skipped Outcome = "skipped" // the receiver does not take this change
	Failed  Outcome = "failed"
)

// Attempt is one attempt to deliver a change of a case to a receiver.
type Attempt struct {
	Tenant   string           `json:"-"`
	CaseID   string           `json:"case"`
	ChangeID string           `json:"change_id"`
	Change   cases.ChangeType `json:"change"`
	Receiver string           `json:"receiver"`
	// Number counts the attempts at this delivery: 1 the first time.
	Number  int       `json:"number"`
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Error   string    `json:"error,omitempty"`
}

// MaxAttemptsKept bounds a case's notification history: the newest
// attempts are kept.
const MaxAttemptsKept = 1000

func attemptsKey(tenant, caseID string) string { return prefix(tenant) + "sent:" + caseID }

// RecordAttempts appends attempts to their cases' notification histories,
// all of tenant, in one round trip.
func (s *Store) RecordAttempts(ctx context.Context, tenant string, as []Attempt) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, a := range as {
			blob, err := json.Marshal(a)
			if err != nil {
				return err
			}
			k := attemptsKey(tenant, a.CaseID)
			p.RPush(ctx, k, blob)
			p.LTrim(ctx, k, -MaxAttemptsKept, -1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record notification attempts of %s: %w", tenant, err)
	}
	return nil
}

// Attempts returns the notification history of a case, oldest first.
func (s *Store) Attempts(ctx context.Context, tenant, caseID string) ([]Attempt, error) {
	raw, err := s.rdb.LRange(ctx, attemptsKey(tenant, caseID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read notification attempts: %w", err)
	}
	out := make([]Attempt, 0, len(raw))
	for _, r := range raw {
		var a Attempt
		if err := json.Unmarshal([]byte(r), &a); err != nil {
			return nil, fmt.Errorf("%w: notification attempt of case %s: %v", ErrCorrupt, caseID, err)
		}
		a.Tenant = tenant
		out = append(out, a)
	}
	return out, nil
}
