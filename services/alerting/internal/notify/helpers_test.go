package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/routing"
)

// request is what a test server received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// recorder is an httptest server that records requests and answers with
// a fixed status, headers and body.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	status   int
	header   http.Header
	body     string
}

func newRecorder(t *testing.T, status int) *recorder {
	t.Helper()
	rec := &recorder{status: status, header: http.Header{}}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request body: %v", err)
		}
		rec.mu.Lock()
		rec.requests = append(rec.requests, request{r.Method, r.URL.Path, r.Header.Clone(), b})
		status, body := rec.status, rec.body
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		rec.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

// only is the one request the server got.
func (r *recorder) only(t *testing.T) request {
	t.Helper()
	reqs := r.all()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var (
	slackReceiver   = routing.Receiver{Name: "slack-cx", Kind: routing.Slack, URLEnv: "SLACK_URL"}
	pdReceiver      = routing.Receiver{Name: "pagerduty-vip", Kind: routing.PagerDuty, RoutingKeyEnv: "PD_KEY", URLEnv: "PD_URL"}
	webhookReceiver = routing.Receiver{Name: "crm-webhook", Kind: routing.Webhook, URLEnv: "HOOK_URL", SecretEnv: "HOOK_SECRET"}
)

// testSecret is a Standard Webhooks secret: whsec_ and the base64 of 24
// bytes.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// newSender builds the sender of r aimed at url, with a fixed clock.
func newSender(t *testing.T, r routing.Receiver, url string, now time.Time) Sender {
	t.Helper()
	s, err := New(r, env(map[string]string{
		"SLACK_URL": url, "PD_KEY": "routing-key-123", "PD_URL": url,
		"HOOK_URL": url, "HOOK_SECRET": testSecret,
	}), nil)
	if err != nil {
		t.Fatalf("New(%s): %v", r.Name, err)
	}
	clock := func() time.Time { return now }
	switch s := s.(type) {
	case *SlackSender:
		s.h.now = clock
	case *PagerDutySender:
		s.h.now = clock
	case *WebhookSender:
		s.h.now = clock
	}
	return s
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func sample() Notification {
	return Notification{
		CaseID:     "case-1",
		CustomerID: "c-42",
		Tenant:     "acme",
		Event:      EventOpened,
		Severity:   alert.High,
		Summary:    "Parcel lost twice",
		Tier:       "champion",
		ValueLevel: "high",
		Labels:     map[string]string{"team": "logistics", "region": "eu"},
		Rule:       "vip-detractor",
		ConsoleURL: "https://console.example/cases/case-1",
		Time:       t0.Add(-time.Minute),
	}
}
