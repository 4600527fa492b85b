package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookSender posts a notification as JSON signed per the Standard
// Webhooks spec (https://www.standardwebhooks.com, symmetric scheme).
// Every event is sent.
//
// Headers:
//
//	webhook-id:        msg_<32 hex>   derived from tenant, case id, event and
//	                                  the event's time: the same on every
//	                                  retry of one notification, so the
//	                                  receiver can use it as an idempotency key
//	webhook-timestamp: <unix seconds of this attempt>
//	webhook-signature: v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">
//
// The secret is read as the spec serializes it: "whsec_" followed by the
// base64 of the key bytes. A secret without that prefix is used as raw
// bytes (for receivers that hand out plain shared secrets).
//
// Body (type and timestamp per the spec's payload recommendation;
// timestamp is when the event happened, not the attempt):
//
//	{
//	  "type": "case.opened",
//	  "timestamp": "2026-03-01T10:00:00Z",
//	  "data": {
//	    "case_id": "case-1", "customer_id": "c-42", "tenant": "acme",
//	    "event": "opened", "severity": "high", "summary": "...",
//	    "tier": "champion", "value_level": "high",
//	    "labels": {"team": "logistics"}, "rule": "vip-detractor",
//	    "console_url": "https://..."            // omitted when empty
//	  }
//	}
type WebhookSender struct {
	h      httpSender
	secret []byte
}

// WebhookData is the data object of a webhook body.
type WebhookData struct {
	CaseID     string            `json:"case_id"`
	CustomerID string            `json:"customer_id"`
	Tenant     string            `json:"tenant"`
	Event      string            `json:"event"`
	Severity   string            `json:"severity"`
	Summary    string            `json:"summary"`
	Tier       string            `json:"tier"`
	ValueLevel string            `json:"value_level"`
	Labels     map[string]string `json:"labels"`
	Rule       string            `json:"rule"`
	ConsoleURL string            `json:"console_url,omitempty"`
}

// WebhookBody is a webhook's JSON body.
type WebhookBody struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

const secretPrefix = "whsec_"

// parseSecret reads a signing secret: whsec_<base64> or raw bytes.
func parseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return []byte(s), nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// Some tools print the key without padding.
		if key, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, errors.New("a whsec_ secret must be base64 after the prefix")
		}
	}
	if len(key) == 0 {
		return nil, errors.New("the whsec_ secret is empty")
	}
	return key, nil
}

// WebhookID is the webhook-id of n: msg_ and 32 hex digits, without the
// "." the signed content uses as a separator.
func WebhookID(n Notification) string { return "msg_" + n.key() }

// Send posts n.
func (s *WebhookSender) Send(ctx context.Context, n Notification) error {
	if err := n.check(); err != nil {
		return invalid(s.h.receiver, err)
	}
	labels := n.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	body, err := json.Marshal(WebhookBody{
		Type:      "case." + n.Event,
		Timestamp: n.Time.UTC(),
		Data: WebhookData{
			CaseID: n.CaseID, CustomerID: n.CustomerID, Tenant: n.Tenant, Event: n.Event,
			Severity: n.Severity.String(), Summary: n.Summary, Tier: n.Tier, ValueLevel: n.ValueLevel,
			Labels: labels, Rule: n.Rule, ConsoleURL: n.ConsoleURL,
		},
	})
	if err != nil {
		return invalid(s.h.receiver, err)
	}
	id := WebhookID(n)
	ts := strconv.FormatInt(s.h.now().Unix(), 10)
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, ts)
	h.Set(HeaderWebhookSignature, "v1,"+sign(s.secret, id, ts, body))
	return s.h.post(ctx, body, h)
}

// sign is the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>".
func sign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
