package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
)

var allReceivers = []routing.Receiver{slackReceiver, pdReceiver, webhookReceiver}

func TestNew(t *testing.T) {
	full := map[string]string{
		"SLACK_URL": "https://hooks.example/services/T0/B0/tok3n", "PD_KEY": "rk",
		"HOOK_URL": "https://crm.example/hook", "HOOK_SECRET": testSecret,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		r       routing.Receiver
		env     map[string]string
		wantErr string // "" for success
		check   func(t *testing.T, s Sender)
	}{
		{name: "slack", r: slackReceiver, env: full, check: func(t *testing.T, s Sender) {
			if got := s.(*SlackSender).h.url; got != full["SLACK_URL"] {
				t.Errorf("url = %q", got)
			}
		}},
		{name: "pagerduty default url", r: pdReceiver, env: full, check: func(t *testing.T, s Sender) {
			pd := s.(*PagerDutySender)
			if pd.h.url != DefaultPagerDutyURL || pd.routingKey != "rk" {
				t.Errorf("url = %q, key = %q", pd.h.url, pd.routingKey)
			}
		}},
		{name: "pagerduty url from env", r: pdReceiver, env: with("PD_URL", "http://pd.local/v2/enqueue"), check: func(t *testing.T, s Sender) {
			if got := s.(*PagerDutySender).h.url; got != "http://pd.local/v2/enqueue" {
				t.Errorf("url = %q", got)
			}
		}},
		{name: "pagerduty without url_env", r: routing.Receiver{Name: "pd", Kind: routing.PagerDuty, RoutingKeyEnv: "PD_KEY"}, env: full,
			check: func(t *testing.T, s Sender) {
				if got := s.(*PagerDutySender).h.url; got != DefaultPagerDutyURL {
					t.Errorf("url = %q", got)
				}
			}},
		{name: "webhook whsec secret", r: webhookReceiver, env: full, check: func(t *testing.T, s Sender) {
			if got := len(s.(*WebhookSender).secret); got != 24 {
				t.Errorf("secret is %d bytes, want the 24 decoded", got)
			}
		}},
		{name: "webhook raw secret", r: webhookReceiver, env: with("HOOK_SECRET", "plain-shared-secret"), check: func(t *testing.T, s Sender) {
			if got := string(s.(*WebhookSender).secret); got != "plain-shared-secret" {
				t.Errorf("secret = %q", got)
			}
		}},
		{name: "slack url unset", r: slackReceiver, env: with("SLACK_URL", ""), wantErr: "SLACK_URL"},
		{name: "slack url not http", r: slackReceiver, env: with("SLACK_URL", "hooks.example/x"), wantErr: "SLACK_URL is not an http(s) URL"},
		{name: "pagerduty key unset", r: pdReceiver, env: with("PD_KEY", ""), wantErr: "PD_KEY"},
		{name: "pagerduty bad url", r: pdReceiver, env: with("PD_URL", "ftp://pd"), wantErr: "PD_URL"},
		{name: "webhook url unset", r: webhookReceiver, env: with("HOOK_URL", ""), wantErr: "HOOK_URL"},
		{name: "webhook secret unset", r: webhookReceiver, env: with("HOOK_SECRET", " "), wantErr: "HOOK_SECRET"},
		{name: "webhook secret not base64", r: webhookReceiver, env: with("HOOK_SECRET", "whsec_not*base64!"), wantErr: "HOOK_SECRET"},
		{name: "webhook secret empty after prefix", r: webhookReceiver, env: with("HOOK_SECRET", "whsec_"), wantErr: "HOOK_SECRET"},
		{name: "unknown kind", r: routing.Receiver{Name: "x", Kind: "sms"}, env: full, wantErr: `unknown kind "sms"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.r, env(tt.env), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: err = %v, want one containing %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.r.Name) {
					t.Errorf("error %q does not name the receiver %q", err, tt.r.Name)
				}
				for _, v := range []string{"not*base64", "hooks.example/x", "ftp://pd"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q repeats the variable's value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tt.check(t, s)
		})
	}
}

// TestStatus checks, for every kind, which answers are success, which are
// retryable and which are permanent.
func TestStatus(t *testing.T) {
	httpDate := t0.Add(90 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		wantErr    bool
		retryable  bool
		wantAfter  time.Duration
	}{
		{status: 200},
		{status: 202},
		{status: 204},
		{status: 500, wantErr: true, retryable: true},
		{status: 502, wantErr: true, retryable: true},
		{status: 503, wantErr: true, retryable: true},
		{status: 503, retryAfter: "7", wantErr: true, retryable: true, wantAfter: 7 * time.Second},
		{status: 504, wantErr: true, retryable: true},
		{status: 429, wantErr: true, retryable: true},
		{status: 429, retryAfter: "30", wantErr: true, retryable: true, wantAfter: 30 * time.Second},
		{status: 429, retryAfter: httpDate, wantErr: true, retryable: true, wantAfter: 90 * time.Second},
		{status: 429, retryAfter: "soon", wantErr: true, retryable: true},
		{status: 400, wantErr: true},
		{status: 401, wantErr: true},
		{status: 403, wantErr: true},
		{status: 404, wantErr: true},
		{status: 404, retryAfter: "5", wantErr: true}, // Retry-After only counts on a retryable answer
		{status: 410, wantErr: true},
		{status: 422, wantErr: true},
	}
	for _, r := range allReceivers {
		for _, tt := range tests {
			name := r.Name + "/" + http.StatusText(tt.status)
			if tt.retryAfter != "" {
				name += "/retry-after " + tt.retryAfter
			}
			t.Run(name, func(t *testing.T) {
				srv := newRecorder(t, tt.status)
				if tt.retryAfter != "" {
					srv.header.Set("Retry-After", tt.retryAfter)
				}
				srv.body = "server says no"
				err := newSender(t, r, srv.URL, t0).Send(context.Background(), sample())
				if len(srv.all()) != 1 {
					t.Fatalf("server got %d requests, want 1 (a Sender never retries)", len(srv.all()))
				}
				if !tt.wantErr {
					if err != nil {
						t.Fatalf("Send: %v", err)
					}
					return
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Send: err = %v (%T), want an *Error", err, err)
				}
				if e.StatusCode != tt.status || e.Retryable != tt.retryable || e.RetryAfter != tt.wantAfter || e.Receiver != r.Name {
					t.Errorf("err = %+v, want status %d, retryable %v, retry after %s, receiver %s",
						e, tt.status, tt.retryable, tt.wantAfter, r.Name)
				}
				if retry, after := Retryable(err); retry != tt.retryable || after != tt.wantAfter {
					t.Errorf("Retryable(err) = %v, %s", retry, after)
				}
				if !strings.Contains(err.Error(), "server says no") {
					t.Errorf("err %q lacks the response body", err)
				}
			})
		}
	}
}

// TestNetworkError: no server behind the URL is retryable, and the error
// does not leak the URL (a Slack webhook URL is a credential).
func TestNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/s3cr3tT0ken"
	srv.Close()
	for _, r := range allReceivers {
		t.Run(r.Name, func(t *testing.T) {
			err := newSender(t, r, url, t0).Send(context.Background(), sample())
			var e *Error
			if !errors.As(err, &e) || !e.Retryable || e.StatusCode != 0 {
				t.Fatalf("Send: err = %#v, want a retryable *Error without status", err)
			}
			if strings.Contains(err.Error(), "s3cr3tT0ken") || strings.Contains(err.Error(), "routing-key-123") {
				t.Errorf("err %q leaks the URL or key", err)
			}
		})
	}
}

// TestContext: a cancelled or expiring context ends the attempt at once,
// retryable, with the context's error in the chain.
func TestContext(t *testing.T) {
	for _, r := range allReceivers {
		t.Run(r.Name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				_, _ = io.Copy(io.Discard, req.Body) // lets the server see the client go
				arrived <- struct{}{}
				select { // never answers
				case <-req.Context().Done():
				case <-release:
				}
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			s := newSender(t, r, srv.URL, t0)

			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-arrived; cancel() }()
			start := time.Now()
			err := s.Send(ctx, sample())
			if time.Since(start) > 5*time.Second {
				t.Errorf("Send took %s after cancel", time.Since(start))
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: err = %v, want context.Canceled in the chain", err)
			}
			if retry, _ := Retryable(err); !retry {
				t.Errorf("cancelled: err %v not retryable", err)
			}

			ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel2()
			err = s.Send(ctx, sample())
			<-arrived
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("deadline: err = %v, want context.DeadlineExceeded in the chain", err)
			}
			if retry, _ := Retryable(err); !retry {
				t.Errorf("deadline: err %v not retryable", err)
			}

			// Already cancelled: nothing is sent.
			done, cancel3 := context.WithCancel(context.Background())
			cancel3()
			if err := s.Send(done, sample()); !errors.Is(err, context.Canceled) {
				t.Errorf("already cancelled: err = %v", err)
			}
			select {
			case <-arrived:
				t.Errorf("already cancelled: a request reached the server")
			default:
			}
		})
	}
}

func TestInvalidNotification(t *testing.T) {
	for _, r := range allReceivers {
		for name, n := range map[string]Notification{
			"no case id": func() Notification { n := sample(); n.CaseID = ""; return n }(),
			"no event":   func() Notification { n := sample(); n.Event = ""; return n }(),
		} {
			t.Run(r.Name+"/"+name, func(t *testing.T) {
				srv := newRecorder(t, 200)
				err := newSender(t, r, srv.URL, t0).Send(context.Background(), n)
				var e *Error
				if !errors.As(err, &e) || e.Retryable {
					t.Errorf("Send: err = %v, want a permanent *Error", err)
				}
				if len(srv.all()) != 0 {
					t.Errorf("an invalid notification was sent")
				}
			})
		}
	}
}

func TestRetryableHelper(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
		after time.Duration
	}{
		{"nil", nil, false, 0},
		{"skipped", ErrSkipped, false, 0},
		{"other", errors.New("boom"), false, 0},
		{"permanent", &Error{StatusCode: 400}, false, 0},
		{"retryable", &Error{StatusCode: 429, Retryable: true, RetryAfter: time.Second}, true, time.Second},
		{"wrapped", errors.Join(errors.New("x"), &Error{Retryable: true}), true, 0},
	}
	for _, tt := range tests {
		if retry, after := Retryable(tt.err); retry != tt.retry || after != tt.after {
			t.Errorf("%s: Retryable = %v, %s; want %v, %s", tt.name, retry, after, tt.retry, tt.after)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := t0
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"12", 12 * time.Second},
		{" 12 ", 12 * time.Second},
		{"99999999999", 24 * time.Hour},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Mon, 99 Foo", 0},
		{"1.5", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFromCase(t *testing.T) {
	c := &cases.Case{ID: "case-9", CustomerID: "c-1", Severity: alert.Critical, Rule: "r1", Summary: "s",
		Tier: "champion", ValueLevel: "high", Labels: map[string]string{"team": "x"}}
	ch := cases.Change{Type: cases.ChangeEscalated, At: t0}
	n := FromCase("acme", c, ch, "https://console/c/9")
	want := Notification{CaseID: "case-9", CustomerID: "c-1", Tenant: "acme", Event: EventEscalated,
		Severity: alert.Critical, Summary: "s", Tier: "champion", ValueLevel: "high",
		Labels: map[string]string{"team": "x"}, Rule: "r1", ConsoleURL: "https://console/c/9", Time: t0}
	if n.Event != want.Event || n.CaseID != want.CaseID || n.Tenant != want.Tenant || n.Severity != want.Severity ||
		n.Summary != want.Summary || n.Tier != want.Tier || n.ValueLevel != want.ValueLevel || n.Rule != want.Rule ||
		n.ConsoleURL != want.ConsoleURL || !n.Time.Equal(want.Time) || n.Labels["team"] != "x" || n.CustomerID != want.CustomerID {
		t.Errorf("FromCase = %+v\nwant %+v", n, want)
	}
	// The event names are cases.ChangeType's.
	for ct, name := range map[cases.ChangeType]string{
		cases.ChangeOpened: EventOpened, cases.ChangeUpdated: EventUpdated, cases.ChangeAcknowledged: EventAcknowledged,
		cases.ChangeEscalated: EventEscalated, cases.ChangeResolved: EventResolved, cases.ChangeReopened: EventReopened,
		cases.ChangeFollowUpDue: EventFollowUpDue, cases.ChangeOutcomeMeasured: EventOutcomeMeasured,
	} {
		if ct.String() != name {
			t.Errorf("%d: cases says %q, notify %q", ct, ct.String(), name)
		}
	}
}
