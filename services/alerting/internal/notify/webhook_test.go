package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyStandardWebhook is a receiver's check per the Standard Webhooks
// spec, written from the spec and sharing no code with the sender: the
// secret is whsec_<base64> (or raw bytes), the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", and webhook-signature is a
// space-separated list of "<version>,<base64 signature>" of which one v1
// entry must match, compared in constant time. The timestamp must be
// within tolerance of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) bool {
	var key []byte
	if strings.HasPrefix(secret, "whsec_") {
		k, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
		if err != nil {
			return false
		}
		key = k
	} else {
		key = []byte(secret)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	expected := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && hmac.Equal(got, expected) {
			return true
		}
	}
	return false
}

var webhookIDShape = regexp.MustCompile(`^msg_[0-9a-f]{32}$`)

func TestWebhookSignature(t *testing.T) {
	srv := newRecorder(t, 200)
	if err := newSender(t, webhookReceiver, srv.URL+"/hooks/feedloop", t0).Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	if req.Method != "POST" || req.Path != "/hooks/feedloop" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %q", req.Method, req.Path, req.Header.Get("Content-Type"))
	}
	if id := req.Header.Get("webhook-id"); !webhookIDShape.MatchString(id) {
		t.Errorf("webhook-id %q", id)
	}
	if ts := req.Header.Get("webhook-timestamp"); ts != strconv.FormatInt(t0.Unix(), 10) {
		t.Errorf("webhook-timestamp %q, want the attempt's time %d", ts, t0.Unix())
	}
	if sig := req.Header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("webhook-signature %q", sig)
	}
	if !verifyStandardWebhook(testSecret, req.Header, req.Body, t0, 5*time.Minute) {
		t.Fatalf("signature does not verify: headers %v body %s", req.Header, req.Body)
	}

	// Negative checks: the verifier must reject what it should, or the
	// positive check means nothing.
	otherSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-byte"))
	if verifyStandardWebhook(otherSecret, req.Header, req.Body, t0, 5*time.Minute) {
		t.Errorf("signature verifies with the wrong secret")
	}
	if verifyStandardWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", req.Header, req.Body, t0, 5*time.Minute) {
		t.Errorf("signature verifies with the secret's base64 taken as raw bytes")
	}
	tampered := []byte(strings.Replace(string(req.Body), "Parcel", "Parce1", 1))
	if verifyStandardWebhook(testSecret, req.Header, tampered, t0, 5*time.Minute) {
		t.Errorf("signature verifies a tampered body")
	}
	h := req.Header.Clone()
	h.Set("webhook-id", "msg_other")
	if verifyStandardWebhook(testSecret, h, req.Body, t0, 5*time.Minute) {
		t.Errorf("signature verifies another webhook-id")
	}
	h = req.Header.Clone()
	h.Set("webhook-timestamp", strconv.FormatInt(t0.Unix()+1, 10))
	if verifyStandardWebhook(testSecret, h, req.Body, t0, 5*time.Minute) {
		t.Errorf("signature verifies another timestamp")
	}
	if verifyStandardWebhook(testSecret, req.Header, req.Body, t0.Add(time.Hour), 5*time.Minute) {
		t.Errorf("an hour-old attempt passes the tolerance")
	}
}

func TestWebhookRawSecret(t *testing.T) {
	srv := newRecorder(t, 200)
	s, err := New(webhookReceiver, env(map[string]string{"HOOK_URL": srv.URL, "HOOK_SECRET": "plain-shared-secret"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	req := srv.only(t)
	if !verifyStandardWebhook("plain-shared-secret", req.Header, req.Body, start, time.Minute) {
		t.Errorf("raw-secret signature does not verify")
	}
	if verifyStandardWebhook("plain-shared-secreT", req.Header, req.Body, start, time.Minute) {
		t.Errorf("verifies with the wrong raw secret")
	}
}

// TestWebhookID: a retry of one notification keeps its webhook-id (and
// body) while its timestamp and signature move with the attempt; another
// change of the case gets another id.
func TestWebhookID(t *testing.T) {
	srv := newRecorder(t, 200)
	n := sample()
	for _, at := range []time.Time{t0, t0.Add(5 * time.Minute)} {
		if err := newSender(t, webhookReceiver, srv.URL, at).Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.all()
	a, b := reqs[0], reqs[1]
	if a.Header.Get("webhook-id") != b.Header.Get("webhook-id") {
		t.Errorf("retry changed webhook-id: %s, %s", a.Header.Get("webhook-id"), b.Header.Get("webhook-id"))
	}
	if string(a.Body) != string(b.Body) {
		t.Errorf("retry changed the body")
	}
	if a.Header.Get("webhook-timestamp") == b.Header.Get("webhook-timestamp") || a.Header.Get("webhook-signature") == b.Header.Get("webhook-signature") {
		t.Errorf("retry kept the attempt's timestamp or signature")
	}
	if !verifyStandardWebhook(testSecret, b.Header, b.Body, t0.Add(5*time.Minute), time.Minute) {
		t.Errorf("retry does not verify")
	}

	ids := map[string]string{WebhookID(n): "base"}
	for name, m := range map[string]Notification{
		"event":  func() Notification { m := n; m.Event = EventEscalated; return m }(),
		"time":   func() Notification { m := n; m.Time = n.Time.Add(time.Nanosecond); return m }(),
		"case":   func() Notification { m := n; m.CaseID = "case-2"; return m }(),
		"tenant": func() Notification { m := n; m.Tenant = "globex"; return m }(),
		// Field boundaries are unambiguous.
		"shifted": func() Notification { m := n; m.Tenant, m.CaseID = "acmec", "ase-1"; return m }(),
	} {
		id := WebhookID(m)
		if prev, dup := ids[id]; dup {
			t.Errorf("%s: webhook-id %s same as %s", name, id, prev)
		}
		ids[id] = name
	}
	same := n
	same.Summary, same.Severity, same.Labels = "edited", same.Severity+1, nil
	if WebhookID(same) != WebhookID(n) {
		t.Errorf("webhook-id depends on more than tenant, case, event and time")
	}
}

func TestWebhookBody(t *testing.T) {
	srv := newRecorder(t, 204)
	if err := newSender(t, webhookReceiver, srv.URL, t0).Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	body := srv.only(t).Body
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if m.Type != "case.opened" || m.Timestamp != "2026-03-01T09:59:00Z" {
		t.Errorf("type %q timestamp %q", m.Type, m.Timestamp)
	}
	for k, want := range map[string]any{
		"case_id": "case-1", "customer_id": "c-42", "tenant": "acme", "event": "opened", "severity": "high",
		"summary": "Parcel lost twice", "tier": "champion", "value_level": "high", "rule": "vip-detractor",
		"console_url": "https://console.example/cases/case-1",
	} {
		if m.Data[k] != want {
			t.Errorf("data.%s = %v, want %v", k, m.Data[k], want)
		}
	}
	if l, _ := m.Data["labels"].(map[string]any); l["team"] != "logistics" || len(l) != 2 {
		t.Errorf("data.labels = %v", m.Data["labels"])
	}
	if len(m.Data) != 11 {
		t.Errorf("data has %d fields: %v", len(m.Data), m.Data)
	}

	// No labels and no link: labels is {}, console_url absent.
	srv2 := newRecorder(t, 200)
	n := sample()
	n.Labels, n.ConsoleURL = nil, ""
	if err := newSender(t, webhookReceiver, srv2.URL, t0).Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	b := string(srv2.only(t).Body)
	if !strings.Contains(b, `"labels":{}`) || strings.Contains(b, "console_url") {
		t.Errorf("body %s", b)
	}
}
