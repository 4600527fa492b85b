package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	alertingv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/alerting/v1"
	segmentationv1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/segmentation/v1"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

// receiver is an HTTP receiver that records what it is sent and answers
// with the statuses queued in fail first, then 200.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	fail []int
	got  []request
}

type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, request{req.Header.Clone(), body, time.Now()})
		if len(r.fail) > 0 {
			status := r.fail[0]
			r.fail = r.fail[1:]
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// waitRequests waits until r got n requests, and a moment more to catch
// any extra.
func (r *receiver) waitRequests(t *testing.T, n int) []request {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(r.requests()) >= n {
			time.Sleep(300 * time.Millisecond)
			return r.requests()
		}
	}
	t.Fatalf("receiver got %d requests within 15s, want %d", len(r.requests()), n)
	return nil
}

const routes = `
receivers:
  - name: pager
    pagerduty: {routing_key_env: TEST_PD_KEY, url_env: TEST_PD_URL}
  - name: chat
    slack: {url_env: TEST_SLACK_URL}
  - name: hook
    webhook: {url_env: TEST_HOOK_URL, secret_env: TEST_HOOK_SECRET}
  - name: rejecting
    webhook: {url_env: TEST_REJECT_URL, secret_env: TEST_HOOK_SECRET}
  - name: unset
    slack: {url_env: TEST_UNSET_URL}
route:
  receiver: hook
  routes:
    - match: {severity: critical}
      receiver: pager
      continue: true
    - receiver: chat
      continue: true
    - receiver: rejecting
      continue: true
    - receiver: unset
      continue: true
    - receiver: hook
`

const hookSecret = "whsec_c2VjcmV0LWZvci10aGUtdGVzdA=="

// deliveryStack starts alerting with the routes above, the receivers given
// and fast retries.
func deliveryStack(t *testing.T, pager, chat, hook, rejecting *receiver) *harness {
	path := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(path, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t,
		"FEEDLOOP_ALERTING_ROUTES", path,
		"TEST_PD_KEY", "routing-key", "TEST_PD_URL", pager.srv.URL,
		"TEST_SLACK_URL", chat.srv.URL,
		"TEST_HOOK_URL", hook.srv.URL, "TEST_HOOK_SECRET", hookSecret,
		"TEST_REJECT_URL", rejecting.srv.URL,
		"FEEDLOOP_ALERTING_DELIVERY_BACKOFF", "50ms", "FEEDLOOP_ALERTING_DELIVERY_BACKOFF_MAX", "200ms",
		"FEEDLOOP_ALERTING_DELIVERY_ATTEMPTS", "5", "FEEDLOOP_ALERTING_DELIVERY_TIMEOUT", "2s")
}

// verified checks a Standard Webhooks signature the way a receiver would,
// independently of the service's code.
func verified(t *testing.T, r request) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hookSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(r.header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

func TestACaseReachesItsReceiversOnce(t *testing.T) {
	pager, hook := newReceiver(t), newReceiver(t)
	chat := newReceiver(t, http.StatusServiceUnavailable, http.StatusTooManyRequests) // then 200
	rejecting := newReceiver(t, http.StatusBadRequest)
	h := deliveryStack(t, pager, chat, hook, rejecting)
	high, low := segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, segmentationv1.ValueLevel_VALUE_LEVEL_LOW

	// A high-value detractor, delivered twice (a redelivery upstream), and
	// a low-value promoter who opens no case.
	again := evaluated("ann", "f1", high, 2, false)
	again.ID = "tenant-a/f1-again"
	h.publish(t, evaluated("ann", "f1", high, 2, false), evaluated("bob", "f2", low, 10, false), again)

	pages := pager.waitRequests(t, 1)
	hooks := hook.waitRequests(t, 1)
	chats := chat.waitRequests(t, 3) // 503, 429, then delivered
	rejected := rejecting.waitRequests(t, 1)
	if len(pages) != 1 || len(hooks) != 1 || len(chats) != 3 || len(rejected) != 1 {
		t.Fatalf("requests: pager %d, hook %d, chat %d, rejecting %d; want 1, 1, 3 (two retried failures), 1 (a 400 is not retried)",
			len(pages), len(hooks), len(chats), len(rejected))
	}
	var page struct {
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct {
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(pages[0].body, &page); err != nil || page.EventAction != "trigger" || page.Payload.Severity != "critical" || page.DedupKey == "" {
		t.Errorf("page %s: %v", pages[0].body, err)
	}
	if !verified(t, hooks[0]) || !strings.Contains(string(hooks[0].body), `"case.opened"`) {
		t.Errorf("webhook %s %v: want a verified signature on case.opened", hooks[0].body, hooks[0].header)
	}
	if string(chats[0].body) != string(chats[2].body) {
		t.Error("the retried Slack message differs from the first attempt")
	}

	// The case's notification history records every attempt.
	cs := h.changes(t)
	if len(cs) != 1 {
		t.Fatalf("%d changes, want the opening only", len(cs))
	}
	got, err := h.client.GetAlert(testkit.WithKey(keyA), &alertingv1.GetAlertRequest{CaseId: cs[0].GetCase().GetCaseId()})
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		attempts int32
		success  bool
	}
	want := map[string]summary{"pager": {1, true}, "hook": {1, true}, "chat": {3, true}, "rejecting": {1, false}}
	seen := map[string]summary{}
	for _, n := range got.GetNotifications() {
		seen[n.GetReceiver()] = summary{n.GetAttempts(), n.GetSuccess()}
		if n.GetTrigger() != alertingv1.CaseEventType_CASE_EVENT_TYPE_OPENED || n.GetSentAt() == nil || n.GetSuccess() != (n.GetError() == "") {
			t.Errorf("notification %v", n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("notifications %v, want %v (the unset receiver gets none)", seen, want)
	}
	for r, w := range want {
		if seen[r] != w {
			t.Errorf("%s: %+v, want %+v", r, seen[r], w)
		}
	}
	// The rejected delivery is in the dead-letter stream with its reason.
	dls := testkit.DeadLetters(t, h.js, 1, 10*time.Second)
	for _, dl := range dls {
		if dl.GetConsumer() != "alerting-deliver-rejecting" || !strings.Contains(dl.GetReason(), "HTTP 400") {
			t.Errorf("dead letter %v", dl)
		}
	}

	// Acknowledging reaches PagerDuty under the same dedup key.
	if _, err := h.client.AcknowledgeAlert(testkit.WithKey(keyA), &alertingv1.AcknowledgeAlertRequest{CaseId: cs[0].GetCase().GetCaseId(), By: "ops"}); err != nil {
		t.Fatal(err)
	}
	pages = pager.waitRequests(t, 2)
	var ack struct {
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
	if err := json.Unmarshal(pages[1].body, &ack); err != nil || ack.EventAction != "acknowledge" || ack.DedupKey != page.DedupKey {
		t.Errorf("acknowledge page %s, want the trigger's dedup key %s: %v", pages[1].body, page.DedupKey, err)
	}
}

func TestARestartLosesNoNotification(t *testing.T) {
	pager, chat, rejecting := newReceiver(t), newReceiver(t), newReceiver(t)
	// The webhook receiver is down for the first attempts.
	hook := newReceiver(t, http.StatusBadGateway, http.StatusBadGateway)
	h := deliveryStack(t, pager, chat, hook, rejecting)
	h.publish(t, evaluated("ann", "f1", segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false))
	hook.waitRequests(t, 1)
	// Stop the service while the delivery waits for its retry, and start
	// it again: the delivery is still in the stream and is made.
	h.stop()
	h.run(t)
	got := hook.waitRequests(t, 3)
	if len(got) != 3 || got[0].header.Get("webhook-id") != got[2].header.Get("webhook-id") {
		t.Fatalf("%d webhook requests, want 2 failures and the delivery, all with one webhook-id", len(got))
	}
	if n := len(chat.requests()); n != 1 {
		t.Errorf("chat got %d notifications, want 1", n)
	}
}

// TestABurstWaitsForTheRateLimit: 150 cases open at once for a receiver
// limited to 50 notifications a second, with attempts of at most 1 s and
// no second attempt. They wait their turn in the stream, not in an attempt:
// each is delivered once, in about 2 s (a burst of 50, then 50 a second),
// and none is given up.
func TestABurstWaitsForTheRateLimit(t *testing.T) {
	hook := newReceiver(t)
	h := start(t, "FEEDLOOP_ALERTING_WEBHOOK_URL", hook.srv.URL, "FEEDLOOP_ALERTING_WEBHOOK_SECRET", hookSecret,
		"FEEDLOOP_ALERTING_DELIVERY_RATE", "50", "FEEDLOOP_ALERTING_DELIVERY_ATTEMPTS", "1", "FEEDLOOP_ALERTING_DELIVERY_TIMEOUT", "1s")
	const n = 150
	var outs []bus.Outgoing
	for i := range n {
		outs = append(outs, evaluated(fmt.Sprint("c", i), fmt.Sprint("f", i), segmentationv1.ValueLevel_VALUE_LEVEL_HIGH, 2, false))
	}
	h.publish(t, outs...)
	got := hook.waitRequests(t, n)
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.header.Get("webhook-id")] = true
	}
	if len(got) != n || len(ids) != n {
		t.Fatalf("%d requests of %d notifications, want %d of %d", len(got), len(ids), n, n)
	}
	if span := got[n-1].at.Sub(got[0].at); span < 1800*time.Millisecond {
		t.Errorf("%d notifications in %s: the limit of 50 a second (burst 50) needs about 2s", n, span)
	}
	if dl := testkit.StreamMessages(t, h.js, "DEADLETTER"); len(dl) != 0 {
		t.Errorf("%d dead letters: a notification waiting for the rate limit was given up", len(dl))
	}
}
