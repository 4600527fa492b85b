package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SlackSender posts to a Slack-compatible incoming webhook (Slack itself,
// Mattermost, Rocket.Chat, ...). Every event is sent.
//
// The body is JSON with a plain-text fallback and Block Kit blocks:
//
//	{
//	  "text": "[HIGH] Case opened: Parcel lost twice (customer c-42, tier champion, value high)",
//	  "blocks": [
//	    {"type": "header", "text": {"type": "plain_text", "text": "HIGH · Case opened"}},
//	    {"type": "section",
//	     "text": {"type": "mrkdwn", "text": "*Parcel lost twice*"},
//	     "fields": [
//	       {"type": "mrkdwn", "text": "*Severity*\nhigh"},
//	       {"type": "mrkdwn", "text": "*Customer*\nc-42"},
//	       {"type": "mrkdwn", "text": "*Tier*\nchampion"},
//	       {"type": "mrkdwn", "text": "*Value level*\nhigh"},
//	       {"type": "mrkdwn", "text": "*State*\nopened"},
//	       {"type": "mrkdwn", "text": "*Rule*\nvip-detractor"}]},
//	    {"type": "context", "elements": [
//	      {"type": "mrkdwn", "text": "case case-1 · tenant acme · 2026-03-01T10:00:00Z"},
//	      {"type": "mrkdwn", "text": "labels: team=logistics"},
//	      {"type": "mrkdwn", "text": "<https://console/cases/case-1|Open in console>"}]}
//	  ]
//	}
//
// Fields with no value are left out; the context's labels and console
// elements only appear when there are labels or a link. Text from the case
// (summary, labels, ids) is escaped for mrkdwn (&, <, >) and cut to Slack's
// limits (header 150 characters, section text 3000, field 2000).
type SlackSender struct {
	h httpSender
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// Send posts n.
func (s *SlackSender) Send(ctx context.Context, n Notification) error {
	if err := n.check(); err != nil {
		return invalid(s.h.receiver, err)
	}
	body, err := json.Marshal(slackPayload(&n))
	if err != nil {
		return invalid(s.h.receiver, err)
	}
	return s.h.post(ctx, body, nil)
}

func slackPayload(n *Notification) slackMessage {
	sev := strings.ToUpper(n.Severity.String())
	title := eventTitle(n.Event)
	summary := n.Summary
	if summary == "" {
		summary = "Case " + n.CaseID
	}

	var who []string
	if n.CustomerID != "" {
		who = append(who, "customer "+n.CustomerID)
	}
	if n.Tier != "" {
		who = append(who, "tier "+n.Tier)
	}
	if n.ValueLevel != "" {
		who = append(who, "value "+n.ValueLevel)
	}
	text := fmt.Sprintf("[%s] %s: %s", sev, title, summary)
	if len(who) > 0 {
		text += " (" + strings.Join(who, ", ") + ")"
	}

	var fields []slackText
	field := func(name, value string) {
		if value != "" {
			fields = append(fields, slackText{"mrkdwn", "*" + name + "*\n" + mrkdwn(value, 1900)})
		}
	}
	field("Severity", n.Severity.String())
	field("Customer", n.CustomerID)
	field("Tier", n.Tier)
	field("Value level", n.ValueLevel)
	field("State", n.Event)
	field("Rule", n.Rule)

	ctxParts := []string{"case " + n.CaseID}
	if n.Tenant != "" {
		ctxParts = append(ctxParts, "tenant "+n.Tenant)
	}
	if !n.Time.IsZero() {
		ctxParts = append(ctxParts, n.Time.UTC().Format(time.RFC3339))
	}
	elements := []slackText{{"mrkdwn", mrkdwn(strings.Join(ctxParts, " · "), 2000)}}
	if len(n.Labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(n.Labels)) {
			ls = append(ls, k+"="+n.Labels[k])
		}
		elements = append(elements, slackText{"mrkdwn", mrkdwn("labels: "+strings.Join(ls, ", "), 2000)})
	}
	if n.ConsoleURL != "" {
		// In a link, only the characters that end it need escaping.
		elements = append(elements, slackText{"mrkdwn", "<" + linkEscape(n.ConsoleURL) + "|Open in console>"})
	}

	return slackMessage{
		Text: mrkdwn(text, 3000),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{"plain_text", cut(sev+" · "+title, 150)}},
			{Type: "section", Text: &slackText{"mrkdwn", "*" + mrkdwn(summary, 2990) + "*"}, Fields: fields},
			{Type: "context", Elements: elements},
		},
	}
}

// eventTitle is "Case opened", "Case follow up due", ...
func eventTitle(event string) string {
	return "Case " + strings.ReplaceAll(event, "_", " ")
}

// mrkdwn escapes the three characters Slack's mrkdwn gives meaning to,
// keeping the result to at most n characters (ending with … when cut, and
// never inside an escape or a UTF-8 sequence).
func mrkdwn(s string, n int) string {
	var b strings.Builder
	count := 0
	for i, r := range s {
		piece := string(r)
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		}
		w := utf8.RuneCountInString(piece)
		// Leave room for … unless this is the last rune and it fits.
		_, size := utf8.DecodeRuneInString(s[i:])
		last := i+size == len(s)
		if count+w > n-1 && !(last && count+w <= n) {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(piece)
		count += w
	}
	return b.String()
}

func linkEscape(s string) string {
	return strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C").Replace(s)
}

// cut shortens s to at most n characters, ending with … when cut, never
// inside a UTF-8 sequence.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
