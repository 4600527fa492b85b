// Package notify delivers a recovery case's notifications to the receivers
// routing selects: a Slack-compatible incoming webhook (slack.go),
// PagerDuty Events API v2 (pagerduty.go) and a JSON webhook signed per the
// Standard Webhooks spec (webhook.go).
//
// A Sender makes one attempt. It does not retry, wait or log: like
// Alertmanager's notifiers it reports, in an *Error, whether the failure is
// worth retrying (Retryable, and RetryAfter when the receiver said how long
// to wait), and the durable delivery consumer decides what to do with it —
// Backoff for the delay, Limited for a per-receiver rate limit, the
// dead-letter stream after its bound.
//
// What is retryable: a network error (including a timeout), HTTP 429 and
// any 5xx; a Retry-After header on those (seconds or an HTTP date) sets
// RetryAfter. Any other non-2xx status (3xx, 400, 401, 403, 404, 410, ...)
// is permanent: sending the same request again will not change the answer.
// A context cancelled or past its deadline is reported as retryable, with
// errors.Is(err, context.Canceled or DeadlineExceeded) true: the
// notification was not delivered and the consumer should try it again
// later (or leave it pending while shutting down).
//
// Errors never contain a receiver's URL, routing key or secret: a Slack or
// webhook URL is itself a credential.
package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
)

// Notification is what a receiver is told about one change of a case.
type Notification struct {
	CaseID     string
	CustomerID string
	Tenant     string
	// Event is what happened to the case: the names of cases.ChangeType
	// ("opened", "updated", "acknowledged", "escalated", "resolved",
	// "reopened", "follow_up_due", "outcome_measured").
	Event      string
	Severity   alert.Severity
	Summary    string
	Tier       string
	ValueLevel string
	Labels     map[string]string
	// Rule is the rule that opened the case.
	Rule string
	// ConsoleURL links to the case in the ops console; optional.
	ConsoleURL string
	// Time is when the change happened (not when it is delivered). With
	// Tenant, CaseID and Event it identifies the notification: the
	// Standard Webhooks webhook-id is derived from the four, so a retry of
	// the same notification carries the same id.
	Time time.Time
}

// Event names, as cases.ChangeType spells them.
const (
	EventOpened          = "opened"
	EventUpdated         = "updated"
	EventAcknowledged    = "acknowledged"
	EventEscalated       = "escalated"
	EventResolved        = "resolved"
	EventReopened        = "reopened"
	EventFollowUpDue     = "follow_up_due"
	EventOutcomeMeasured = "outcome_measured"
)

// FromCase is the notification of change ch of case c in tenant's store;
// consoleURL may be empty.
func FromCase(tenant string, c *cases.Case, ch cases.Change, consoleURL string) Notification {
	return Notification{
		CaseID:     c.ID,
		CustomerID: c.CustomerID,
		Tenant:     tenant,
		Event:      ch.Type.String(),
		Severity:   c.Severity,
		Summary:    c.Summary,
		Tier:       c.Tier,
		ValueLevel: c.ValueLevel,
		Labels:     c.Labels,
		Rule:       c.Rule,
		ConsoleURL: consoleURL,
		Time:       ch.At,
	}
}

// check rejects a notification no receiver can use.
func (n *Notification) check() error {
	switch {
	case n.CaseID == "":
		return errors.New("notification has no case id")
	case n.Event == "":
		return errors.New("notification has no event type")
	}
	return nil
}

// key identifies the notification: the same for every attempt to deliver
// it, different for another change of the case.
func (n *Notification) key() string {
	h := sha256.New()
	for _, s := range []string{n.Tenant, n.CaseID, n.Event} {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	var t [8]byte
	if !n.Time.IsZero() {
		binary.BigEndian.PutUint64(t[:], uint64(n.Time.UnixNano()))
	}
	h.Write(t[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Sender delivers a notification to one receiver, in one attempt.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// ErrSkipped is returned by a Sender for a notification its receiver does
// not take (PagerDuty and the events that are not trigger, acknowledge or
// resolve): nothing was sent, and nothing should be retried. The consumer
// records it as skipped, not as delivered or failed.
var ErrSkipped = errors.New("not sent: the receiver does not take this event")

// Error is a failed attempt.
type Error struct {
	Receiver string // the receiver's name
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Retryable is true when the same notification may succeed later.
	Retryable bool
	// RetryAfter is how long the receiver asked to wait (a Retry-After
	// header on a 429 or 5xx); 0 when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify %s: ", e.Receiver)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Retryable {
		b.WriteString(" (retryable")
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, " after %s", e.RetryAfter)
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err, from a Sender, is worth retrying, and
// the delay the receiver asked for (0 when none). Only an *Error is
// retryable; nil, ErrSkipped and any other error are not.
func Retryable(err error) (retry bool, after time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable, e.RetryAfter
	}
	return false, 0
}

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// DefaultTimeout bounds an attempt when New is given no client (the
// Standard Webhooks spec recommends 15 to 30 seconds).
const DefaultTimeout = 30 * time.Second

// New builds the sender of receiver r, reading its URL, routing key or
// secret from the environment variables r names through getenv. client is
// used for every request; nil means a client with DefaultTimeout. A
// variable that is unset or empty is an error naming it (never its value).
func New(r routing.Receiver, getenv func(string) string, client *http.Client) (Sender, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	need := func(field, env string) (string, error) {
		if env == "" {
			return "", fmt.Errorf("notify: receiver %q: no %s given", r.Name, field)
		}
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return "", fmt.Errorf("notify: receiver %q: environment variable %s (its %s) is not set", r.Name, env, field)
		}
		return v, nil
	}
	endpoint := func(field, env string) (string, error) {
		v, err := need(field, env)
		if err != nil {
			return "", err
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("notify: receiver %q: environment variable %s is not an http(s) URL", r.Name, env)
		}
		return v, nil
	}
	h := httpSender{receiver: r.Name, client: client, now: time.Now}
	switch r.Kind {
	case routing.Slack:
		u, err := endpoint("URL", r.URLEnv)
		if err != nil {
			return nil, err
		}
		h.url = u
		return &SlackSender{h: h}, nil
	case routing.PagerDuty:
		key, err := need("routing key", r.RoutingKeyEnv)
		if err != nil {
			return nil, err
		}
		h.url = DefaultPagerDutyURL
		if r.URLEnv != "" && getenv(r.URLEnv) != "" {
			if h.url, err = endpoint("Events API URL", r.URLEnv); err != nil {
				return nil, err
			}
		}
		return &PagerDutySender{h: h, routingKey: key}, nil
	case routing.Webhook:
		u, err := endpoint("URL", r.URLEnv)
		if err != nil {
			return nil, err
		}
		raw, err := need("signing secret", r.SecretEnv)
		if err != nil {
			return nil, err
		}
		secret, err := parseSecret(raw)
		if err != nil {
			return nil, fmt.Errorf("notify: receiver %q: environment variable %s: %w", r.Name, r.SecretEnv, err)
		}
		h.url = u
		return &WebhookSender{h: h, secret: secret}, nil
	default:
		return nil, fmt.Errorf("notify: receiver %q: unknown kind %q", r.Name, r.Kind)
	}
}

// httpSender is what the three kinds share: one POST and the reading of
// its answer.
type httpSender struct {
	receiver string
	url      string
	client   *http.Client
	now      func() time.Time
}

// maxErrorBody bounds how much of a failed response goes in an Error.
const maxErrorBody = 512

// post sends body as JSON with the extra headers and classifies the
// outcome.
func (h *httpSender) post(ctx context.Context, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		// Only a URL New accepted gets here; keep it out of the error.
		return &Error{Receiver: h.receiver, Err: errors.New("cannot build the request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "feedloop-alerting")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// *url.Error names the URL, which may hold a token: keep its cause
		// only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return &Error{Receiver: h.receiver, Retryable: true, Err: fmt.Errorf("POST: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Read a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	e := &Error{Receiver: h.receiver, StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		e.Retryable = true
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), h.now())
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if s := strings.TrimSpace(strings.ToValidUTF8(string(msg), "")); s != "" {
		e.Err = errors.New(s)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. 0 when absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		// Cap absurd values rather than overflow.
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// invalid is the permanent error of a notification that cannot be sent.
func invalid(receiver string, err error) error {
	return &Error{Receiver: receiver, Err: err}
}
