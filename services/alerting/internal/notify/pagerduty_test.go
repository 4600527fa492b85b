package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// decodePD decodes a PagerDuty body into a generic map, so the test sees
// exactly the JSON on the wire.
func decodePD(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("pagerduty body %s: %v", b, err)
	}
	return m
}

func TestPagerDutyTrigger(t *testing.T) {
	srv := newRecorder(t, 202)
	srv.body = `{"status":"success","message":"Event processed","dedup_key":"feedloop/acme/case-1"}`
	if err := newSender(t, pdReceiver, srv.URL+"/v2/enqueue", t0).Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	if req.Method != "POST" || req.Path != "/v2/enqueue" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %q", req.Method, req.Path, req.Header.Get("Content-Type"))
	}
	m := decodePD(t, req.Body)
	for k, want := range map[string]any{
		"routing_key":  "routing-key-123",
		"event_action": "trigger",
		"dedup_key":    "feedloop/acme/case-1",
		"client":       "feedloop",
		"client_url":   "https://console.example/cases/case-1",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	links, _ := m["links"].([]any)
	if len(links) != 1 || links[0].(map[string]any)["href"] != "https://console.example/cases/case-1" {
		t.Errorf("links = %v", m["links"])
	}
	p, ok := m["payload"].(map[string]any)
	if !ok {
		t.Fatalf("trigger without payload: %s", req.Body)
	}
	// The payload fields the Events API requires, and ours.
	for k, want := range map[string]any{
		"summary":   "Parcel lost twice",
		"source":    "feedloop/acme",
		"severity":  "error",
		"timestamp": "2026-03-01T09:59:00Z",
		"component": "customer/c-42",
		"group":     "champion",
		"class":     "vip-detractor",
	} {
		if p[k] != want {
			t.Errorf("payload.%s = %v, want %v", k, p[k], want)
		}
	}
	d, _ := p["custom_details"].(map[string]any)
	for k, want := range map[string]any{
		"case_id": "case-1", "customer_id": "c-42", "tenant": "acme", "event": "opened", "severity": "high",
		"tier": "champion", "value_level": "high", "rule": "vip-detractor", "console_url": "https://console.example/cases/case-1",
	} {
		if d[k] != want {
			t.Errorf("custom_details.%s = %v, want %v", k, d[k], want)
		}
	}
	if l, _ := d["labels"].(map[string]any); l["team"] != "logistics" || l["region"] != "eu" {
		t.Errorf("custom_details.labels = %v", d["labels"])
	}
}

// TestPagerDutyLifecycle: one case's events go to one PagerDuty alert.
func TestPagerDutyLifecycle(t *testing.T) {
	srv := newRecorder(t, 202)
	s := newSender(t, pdReceiver, srv.URL, t0)
	steps := []struct {
		event, action string
	}{
		{EventOpened, "trigger"},
		{EventUpdated, "trigger"},
		{EventEscalated, "trigger"},
		{EventAcknowledged, "acknowledge"},
		{EventResolved, "resolve"},
		{EventReopened, "trigger"},
	}
	for _, st := range steps {
		n := sample()
		n.Event = st.event
		if err := s.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", st.event, err)
		}
	}
	reqs := srv.all()
	if len(reqs) != len(steps) {
		t.Fatalf("%d requests, want %d", len(reqs), len(steps))
	}
	for i, req := range reqs {
		m := decodePD(t, req.Body)
		if m["event_action"] != steps[i].action {
			t.Errorf("%s: event_action = %v, want %s", steps[i].event, m["event_action"], steps[i].action)
		}
		if m["dedup_key"] != "feedloop/acme/case-1" {
			t.Errorf("%s: dedup_key = %v, want the case's", steps[i].event, m["dedup_key"])
		}
		if m["routing_key"] != "routing-key-123" {
			t.Errorf("%s: routing_key = %v", steps[i].event, m["routing_key"])
		}
		_, hasPayload := m["payload"]
		if steps[i].action == "trigger" != hasPayload {
			t.Errorf("%s: payload present %v; only a trigger carries one", steps[i].event, hasPayload)
		}
		if steps[i].action != "trigger" && len(m) != 3 {
			t.Errorf("%s: %d fields, want routing_key, event_action, dedup_key: %s", steps[i].event, len(m), req.Body)
		}
	}

	// Another case, or the same case id in another tenant, is another alert.
	for _, n := range []Notification{
		func() Notification { n := sample(); n.CaseID = "case-2"; return n }(),
		func() Notification { n := sample(); n.Tenant = "globex"; return n }(),
	} {
		if k := DedupKey(n.Tenant, n.CaseID); k == "feedloop/acme/case-1" {
			t.Errorf("DedupKey(%s, %s) collides", n.Tenant, n.CaseID)
		}
	}
}

func TestPagerDutySkipped(t *testing.T) {
	srv := newRecorder(t, 202)
	s := newSender(t, pdReceiver, srv.URL, t0)
	for _, event := range []string{EventFollowUpDue, EventOutcomeMeasured, "something_new"} {
		n := sample()
		n.Event = event
		if err := s.Send(context.Background(), n); !errors.Is(err, ErrSkipped) {
			t.Errorf("%s: err = %v, want ErrSkipped", event, err)
		}
		if retry, _ := Retryable(ErrSkipped); retry {
			t.Errorf("ErrSkipped is retryable")
		}
	}
	if n := len(srv.all()); n != 0 {
		t.Errorf("%d requests for skipped events", n)
	}
}

func TestPagerDutySeverity(t *testing.T) {
	tests := []struct {
		in   alert.Severity
		want string
	}{
		{alert.Critical, "critical"},
		{alert.High, "error"},
		{alert.Medium, "warning"},
		{alert.Low, "info"},
		{alert.NoSeverity, "error"},
		{alert.Severity(42), "error"},
	}
	for _, tt := range tests {
		srv := newRecorder(t, 202)
		n := sample()
		n.Severity = tt.in
		if err := newSender(t, pdReceiver, srv.URL, t0).Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		p := decodePD(t, srv.only(t).Body)["payload"].(map[string]any)
		if p["severity"] != tt.want {
			t.Errorf("severity %s sent as %v, want %s", tt.in, p["severity"], tt.want)
		}
	}
}

func TestPagerDutySummary(t *testing.T) {
	tests := []struct {
		name    string
		summary string
		want    func(string) bool
	}{
		{"short", "Parcel lost", func(s string) bool { return s == "Parcel lost" }},
		{"empty falls back", "", func(s string) bool { return s == "feedloop case case-1" }},
		{"1024 kept", strings.Repeat("a", 1024), func(s string) bool { return len(s) == 1024 }},
		{"ascii cut", strings.Repeat("a", 5000), func(s string) bool { return s == strings.Repeat("a", 1024) }},
		{"utf-8 cut on a boundary", strings.Repeat("€", 1000), func(s string) bool {
			return utf8.ValidString(s) && len(s) <= 1024 && s == strings.Repeat("€", 341)
		}},
	}
	for _, tt := range tests {
		srv := newRecorder(t, 202)
		n := sample()
		n.Summary = tt.summary
		if err := newSender(t, pdReceiver, srv.URL, t0).Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		got := decodePD(t, srv.only(t).Body)["payload"].(map[string]any)["summary"].(string)
		if !tt.want(got) {
			t.Errorf("%s: summary %d bytes: %.40q", tt.name, len(got), got)
		}
	}
}

func TestDedupKey(t *testing.T) {
	if got := DedupKey("acme", "case-1"); got != "feedloop/acme/case-1" {
		t.Errorf("DedupKey = %q", got)
	}
	long := DedupKey("acme", strings.Repeat("x", 300))
	if len(long) > 255 || !strings.HasPrefix(long, "feedloop/sha256:") {
		t.Errorf("long DedupKey = %q (%d)", long, len(long))
	}
	if long != DedupKey("acme", strings.Repeat("x", 300)) || long == DedupKey("acme", strings.Repeat("x", 301)) {
		t.Errorf("long DedupKey is not stable and distinct")
	}
}
