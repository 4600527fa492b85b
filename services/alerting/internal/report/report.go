// Package report measures service recovery over a set of cases: how many
// opened, were acknowledged, resolved and escalated; how long acknowledging
// and resolving took (p50, p90); how often the SLA was met; and how many
// customers came back happier. Pure: the store picks the cases (those
// opened in the window), this package counts them.
package report

import (
	"slices"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

// Summary measures one group of cases.
type Summary struct {
	Opened, Acknowledged, Resolved, Escalated int64
	// Time from opening to acknowledgement (of the cases acknowledged) and
	// to resolution (of the cases resolved), nearest-rank percentiles.
	AcknowledgeP50, AcknowledgeP90 time.Duration
	ResolveP50, ResolveP90         time.Duration
	// Shares of the resolved cases that were acknowledged in time (before
	// their first acknowledge deadline, never escalated) and resolved in
	// time (by their resolve deadline).
	AcknowledgeSLAMet, ResolveSLAMet float64
	// Outcomes measured, and the share of those that recovered.
	OutcomesMeasured int64
	RecoveryRate     float64
}

// Of summarises cs.
func Of(cs []*cases.Case) Summary {
	var s Summary
	var toAck, toResolve []time.Duration
	var ackMet, resolveMet, recovered int64
	for _, c := range cs {
		s.Opened++
		if escalated(c) {
			s.Escalated++
		}
		if !c.AcknowledgedAt.IsZero() {
			s.Acknowledged++
			toAck = append(toAck, c.AcknowledgedAt.Sub(c.OpenedAt))
		}
		if c.State == cases.Resolved {
			s.Resolved++
			toResolve = append(toResolve, c.ResolvedAt.Sub(c.OpenedAt))
			if !c.AcknowledgedAt.IsZero() && !escalated(c) && !c.AcknowledgedAt.After(c.AcknowledgeBy) {
				ackMet++
			}
			if !c.ResolvedAt.After(c.ResolveBy) {
				resolveMet++
			}
		}
		if c.Outcome != nil {
			s.OutcomesMeasured++
			if c.Outcome.Recovered {
				recovered++
			}
		}
	}
	s.AcknowledgeP50, s.AcknowledgeP90 = percentile(toAck, 50), percentile(toAck, 90)
	s.ResolveP50, s.ResolveP90 = percentile(toResolve, 50), percentile(toResolve, 90)
	s.AcknowledgeSLAMet, s.ResolveSLAMet = share(ackMet, s.Resolved), share(resolveMet, s.Resolved)
	s.RecoveryRate = share(recovered, s.OutcomesMeasured)
	return s
}

// escalated is true when the case's history holds an escalation (a reopen
// resets the level, not the history).
func escalated(c *cases.Case) bool {
	return slices.ContainsFunc(c.History, func(ch cases.Change) bool { return ch.Type == cases.ChangeEscalated })
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// percentile is the nearest-rank p-th percentile of ds (0 without any).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := (p*len(ds) + 99) / 100 // ⌈p/100 · n⌉
	return ds[max(rank, 1)-1]
}

// BySeverity summarises cs per severity (severities without cases left
// out).
func BySeverity(cs []*cases.Case) map[alert.Severity]Summary {
	return group(cs, func(c *cases.Case) alert.Severity { return c.Severity })
}

// ByTier summarises cs per tier at opening.
func ByTier(cs []*cases.Case) map[string]Summary {
	return group(cs, func(c *cases.Case) string { return c.Tier })
}

func group[K comparable](cs []*cases.Case, key func(*cases.Case) K) map[K]Summary {
	groups := map[K][]*cases.Case{}
	for _, c := range cs {
		groups[key(c)] = append(groups[key(c)], c)
	}
	out := make(map[K]Summary, len(groups))
	for k, g := range groups {
		out[k] = Of(g)
	}
	return out
}
