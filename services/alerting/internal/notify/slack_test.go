package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// slackJSON is the shape the test expects, decoded independently of the
// sender's types; unknown fields fail the decode.
type slackJSON struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"elements"`
	} `json:"blocks"`
}

func decodeSlack(t *testing.T, b []byte) slackJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m slackJSON
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("slack body %s: %v", b, err)
	}
	return m
}

func TestSlackPayload(t *testing.T) {
	srv := newRecorder(t, 200)
	srv.body = "ok"
	if err := newSender(t, slackReceiver, srv.URL+"/services/T0/B0/x", t0).Send(context.Background(), sample()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	req := srv.only(t)
	if req.Method != "POST" || req.Path != "/services/T0/B0/x" {
		t.Errorf("request %s %s", req.Method, req.Path)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	m := decodeSlack(t, req.Body)

	if want := "[HIGH] Case opened: Parcel lost twice (customer c-42, tier champion, value high)"; m.Text != want {
		t.Errorf("text = %q\nwant %q", m.Text, want)
	}
	if len(m.Blocks) != 3 {
		t.Fatalf("%d blocks, want header, section, context: %s", len(m.Blocks), req.Body)
	}
	h, sec, ctxb := m.Blocks[0], m.Blocks[1], m.Blocks[2]
	if h.Type != "header" || h.Text == nil || h.Text.Type != "plain_text" || h.Text.Text != "HIGH · Case opened" {
		t.Errorf("header block = %+v", h)
	}
	if sec.Type != "section" || sec.Text == nil || sec.Text.Type != "mrkdwn" || sec.Text.Text != "*Parcel lost twice*" {
		t.Errorf("section text = %+v", sec.Text)
	}
	wantFields := []string{
		"*Severity*\nhigh", "*Customer*\nc-42", "*Tier*\nchampion",
		"*Value level*\nhigh", "*State*\nopened", "*Rule*\nvip-detractor",
	}
	if len(sec.Fields) != len(wantFields) {
		t.Fatalf("section fields = %+v, want %q", sec.Fields, wantFields)
	}
	for i, f := range sec.Fields {
		if f.Type != "mrkdwn" || f.Text != wantFields[i] {
			t.Errorf("field %d = %+v, want mrkdwn %q", i, f, wantFields[i])
		}
	}
	wantCtx := []string{
		"case case-1 · tenant acme · 2026-03-01T09:59:00Z",
		"labels: region=eu, team=logistics",
		"<https://console.example/cases/case-1|Open in console>",
	}
	if ctxb.Type != "context" || len(ctxb.Elements) != len(wantCtx) {
		t.Fatalf("context block = %+v", ctxb)
	}
	for i, e := range ctxb.Elements {
		if e.Type != "mrkdwn" || e.Text != wantCtx[i] {
			t.Errorf("context element %d = %+v, want %q", i, e, wantCtx[i])
		}
	}
}

// TestSlackEvents: every event is sent, titled by its type.
func TestSlackEvents(t *testing.T) {
	for event, title := range map[string]string{
		EventAcknowledged: "Case acknowledged", EventEscalated: "Case escalated", EventResolved: "Case resolved",
		EventFollowUpDue: "Case follow up due", EventOutcomeMeasured: "Case outcome measured",
	} {
		srv := newRecorder(t, 200)
		n := sample()
		n.Event, n.Severity = event, alert.Critical
		if err := newSender(t, slackReceiver, srv.URL, t0).Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", event, err)
		}
		m := decodeSlack(t, srv.only(t).Body)
		if got := m.Blocks[0].Text.Text; got != "CRITICAL · "+title {
			t.Errorf("%s: header %q", event, got)
		}
		if got := m.Blocks[1].Fields[4].Text; got != "*State*\n"+event {
			t.Errorf("%s: state field %q", event, got)
		}
	}
}

// TestSlackEscapingAndLimits: text from the case cannot inject mrkdwn or
// links, long text is cut to Slack's limits, and empty fields are left
// out.
func TestSlackEscapingAndLimits(t *testing.T) {
	srv := newRecorder(t, 200)
	n := Notification{CaseID: "c<1>", Event: EventOpened, Severity: alert.Low,
		Summary: "<!channel> & <https://evil|click> " + strings.Repeat("é", 4000)}
	if err := newSender(t, slackReceiver, srv.URL, t0).Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	m := decodeSlack(t, srv.only(t).Body)
	sec := m.Blocks[1].Text.Text
	if !strings.HasPrefix(sec, "*&lt;!channel&gt; &amp; &lt;https://evil|click&gt; éé") {
		t.Errorf("section text not escaped: %.80q", sec)
	}
	if n := utf8.RuneCountInString(sec); n > 3000 {
		t.Errorf("section text has %d characters, Slack allows 3000", n)
	}
	if !strings.HasSuffix(sec, "…*") {
		t.Errorf("cut section text does not end with …: %q", sec[len(sec)-10:])
	}
	if strings.Contains(m.Text, "<!channel>") || utf8.RuneCountInString(m.Text) > 3000 {
		t.Errorf("fallback text not escaped or too long")
	}
	// Only the fields with a value.
	var names []string
	for _, f := range m.Blocks[1].Fields {
		names = append(names, strings.SplitN(f.Text, "\n", 2)[0])
	}
	if got := strings.Join(names, ","); got != "*Severity*,*State*" {
		t.Errorf("fields %s", got)
	}
	if len(m.Blocks[2].Elements) != 1 || m.Blocks[2].Elements[0].Text != "case c&lt;1&gt;" {
		t.Errorf("context = %+v", m.Blocks[2].Elements)
	}
}

func TestMrkdwn(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ch…"},
		{"a&b", 10, "a&amp;b"},
		{"abcdefgh&", 10, "abcdefgh…"}, // never half an escape
		{"<>", 10, "&lt;&gt;"},
		{"ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		got := mrkdwn(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("mrkdwn(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if utf8.RuneCountInString(got) > tt.n {
			t.Errorf("mrkdwn(%q, %d) = %q is too long", tt.in, tt.n, got)
		}
	}
}
