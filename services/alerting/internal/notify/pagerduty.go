package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// PagerDutySender sends events to the PagerDuty Events API v2 (by default
// DefaultPagerDutyURL; a receiver's url_env overrides it).
//
// One PagerDuty alert per case: every event of a case carries the same
// dedup_key, "feedloop/<tenant>/<case id>" (or "feedloop/sha256:<hex>" of
// it when that would pass PagerDuty's 255 characters). The case's events
// map to event actions:
//
//	opened, updated, escalated, reopened  → trigger (creates the alert, or
//	                                          updates it: a raised severity
//	                                          or a new summary)
//	acknowledged                          → acknowledge
//	resolved                              → resolve
//	follow_up_due, outcome_measured, ...  → not sent: Send returns ErrSkipped
//
// The follow-up and the outcome happen after the case is resolved and are
// work for the customer team, not a page; re-triggering a resolved alert
// for them would wake someone up for nothing.
//
// A trigger's body:
//
//	{
//	  "routing_key": "<from the environment>",
//	  "event_action": "trigger",
//	  "dedup_key": "feedloop/acme/case-1",
//	  "client": "feedloop",
//	  "client_url": "<console link, when given>",
//	  "links": [{"href": "<console link>", "text": "Open in console"}],
//	  "payload": {
//	    "summary": "<summary, at most 1024 characters>",
//	    "source": "feedloop/acme",
//	    "severity": "critical | error | warning | info",
//	    "timestamp": "2026-03-01T10:00:00Z",
//	    "component": "customer/c-42",
//	    "group": "<tier>",
//	    "class": "<rule>",
//	    "custom_details": {"case_id", "customer_id", "tenant", "event", "severity",
//	                       "tier", "value_level", "rule", "labels", "console_url"}
//	  }
//	}
//
// acknowledge and resolve carry only routing_key, event_action and
// dedup_key, as the API asks. Severity maps critical → critical,
// high → error, medium → warning, low → info; a notification without a
// known severity is sent as error, so it still pages.
type PagerDutySender struct {
	h          httpSender
	routingKey string
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

// PagerDutyAction is the event action of a case event, "" for the events
// not sent to PagerDuty.
func PagerDutyAction(event string) string {
	switch event {
	case EventOpened, EventUpdated, EventEscalated, EventReopened:
		return "trigger"
	case EventAcknowledged:
		return "acknowledge"
	case EventResolved:
		return "resolve"
	}
	return ""
}

// PagerDutySeverity maps a case severity to PagerDuty's.
func PagerDutySeverity(s alert.Severity) string {
	switch s {
	case alert.Critical:
		return "critical"
	case alert.High:
		return "error"
	case alert.Medium:
		return "warning"
	case alert.Low:
		return "info"
	}
	return "error"
}

// DedupKey is the PagerDuty dedup_key of a case: the same for all its
// events, at most 255 characters.
func DedupKey(tenant, caseID string) string {
	k := "feedloop/" + tenant + "/" + caseID
	if len(k) <= 255 {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "feedloop/sha256:" + hex.EncodeToString(sum[:])
}

// pdSummaryMax is the Events API's limit on payload.summary.
const pdSummaryMax = 1024

// Send sends n, or returns ErrSkipped for an event PagerDuty does not take.
func (s *PagerDutySender) Send(ctx context.Context, n Notification) error {
	if err := n.check(); err != nil {
		return invalid(s.h.receiver, err)
	}
	ev := pagerDutyEvent(&n, s.routingKey)
	if ev.EventAction == "" {
		return ErrSkipped
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return invalid(s.h.receiver, err)
	}
	return s.h.post(ctx, body, nil)
}

func pagerDutyEvent(n *Notification, routingKey string) pdEvent {
	ev := pdEvent{
		RoutingKey:  routingKey,
		EventAction: PagerDutyAction(n.Event),
		DedupKey:    DedupKey(n.Tenant, n.CaseID),
	}
	if ev.EventAction != "trigger" {
		return ev
	}
	summary := n.Summary
	if summary == "" {
		summary = "feedloop case " + n.CaseID
	}
	details := map[string]any{
		"case_id":  n.CaseID,
		"tenant":   n.Tenant,
		"event":    n.Event,
		"severity": n.Severity.String(),
	}
	for k, v := range map[string]string{"customer_id": n.CustomerID, "tier": n.Tier,
		"value_level": n.ValueLevel, "rule": n.Rule, "console_url": n.ConsoleURL} {
		if v != "" {
			details[k] = v
		}
	}
	if len(n.Labels) > 0 {
		details["labels"] = n.Labels
	}
	p := &pdPayload{
		Summary:       truncateBytes(summary, pdSummaryMax),
		Source:        "feedloop/" + n.Tenant,
		Severity:      PagerDutySeverity(n.Severity),
		Group:         n.Tier,
		Class:         n.Rule,
		CustomDetails: details,
	}
	if n.CustomerID != "" {
		p.Component = "customer/" + n.CustomerID
	}
	if !n.Time.IsZero() {
		p.Timestamp = n.Time.UTC().Format(time.RFC3339Nano)
	}
	ev.Payload = p
	ev.Client = "feedloop"
	if n.ConsoleURL != "" {
		ev.ClientURL = n.ConsoleURL
		ev.Links = []pdLink{{Href: n.ConsoleURL, Text: "Open in console"}}
	}
	return ev
}

// truncateBytes shortens s to at most n bytes (so at most n characters),
// never inside a UTF-8 sequence.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
