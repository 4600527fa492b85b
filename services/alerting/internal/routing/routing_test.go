package routing

import (
	"slices"
	"strings"
	"testing"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

// testTree exercises every kind of match, continue and nesting.
const testTree = `
receivers:
  - name: slack-cx
    slack: {url_env: FEEDLOOP_SLACK_CX_URL}
  - name: slack-vip
    slack: {url_env: FEEDLOOP_SLACK_VIP_URL}
  - name: pagerduty-vip
    pagerduty: {routing_key_env: FEEDLOOP_PD_VIP_KEY, url_env: FEEDLOOP_PD_URL}
  - name: crm-webhook
    webhook: {url_env: FEEDLOOP_CRM_WEBHOOK_URL, secret_env: FEEDLOOP_CRM_WEBHOOK_SECRET}
  - name: logistics
    slack: {url_env: FEEDLOOP_SLACK_LOGISTICS_URL}
route:
  receiver: slack-cx
  routes:
    - match: {severity: [critical], value_level: [high]}
      receiver: pagerduty-vip
      continue: true
    - match: {tier: [champion, cannot-lose]}
      receiver: slack-vip
      routes:
        - match: {channel: email}
          receiver: crm-webhook
        - match: {channel: [chat, phone], min_severity: high}
          continue: true
        - match: {channel: [chat, phone]}
          receiver: slack-cx
    - match: {touchpoint: delivery, labels: {team: logistics}}
      receiver: logistics
      continue: true
    - match: {touchpoint: delivery, labels: {team: ["", logistics], region: [eu, us]}}
      receiver: crm-webhook
    - match: {min_severity: medium}
      receiver: pagerduty-vip
      continue: true
    - match: {severity: [low, medium], tier: lost}
      receiver: slack-cx
escalation: [slack-vip, pagerduty-vip]
`

func load(t testing.TB, yaml string) *Tree {
	t.Helper()
	tree, err := Load(strings.NewReader(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestRoute(t *testing.T) {
	tree := load(t, testTree)
	for _, tc := range []struct {
		name string
		a    Attributes
		want []string
	}{
		{"nothing matches: the default receiver", Attributes{Severity: alert.Low, Tier: "new", ValueLevel: "low"}, []string{"slack-cx"}},
		{"no severity at all: the default receiver", Attributes{}, []string{"slack-cx"}},
		{"first match wins: a champion's delivery case stops at the VIP route", Attributes{Severity: alert.Low, Tier: "champion", Touchpoint: "delivery",
			Labels: map[string]string{"team": "logistics", "region": "eu"}}, []string{"slack-vip"}},
		{"continue: after the min severity route, a later sibling matches too", Attributes{Severity: alert.Medium, Tier: "lost"}, []string{"pagerduty-vip", "slack-cx"}},
		{"a severity list", Attributes{Severity: alert.Low, Tier: "lost"}, []string{"slack-cx"}},
		{"continue: a critical high-value champion pages and goes on to the VIP route", Attributes{Severity: alert.Critical, ValueLevel: "high", Tier: "champion"}, []string{"pagerduty-vip", "slack-vip"}},
		{"without continue the siblings after the match are not tried", Attributes{Severity: alert.Critical, Tier: "champion"}, []string{"slack-vip"}},
		{"nested: a champion's email case goes to the child's receiver", Attributes{Severity: alert.Low, Tier: "champion", Channel: "email"}, []string{"crm-webhook"}},
		{"nested: no child matches, the parent's receiver", Attributes{Severity: alert.Low, Tier: "cannot-lose", Channel: "web"}, []string{"slack-vip"}},
		{"nested: a child without receiver inherits its parent's, continue to the next child", Attributes{Severity: alert.High, Tier: "champion", Channel: "chat"}, []string{"slack-vip", "slack-cx"}},
		{"nested: below min severity the inheriting child does not match", Attributes{Severity: alert.Medium, Tier: "champion", Channel: "phone"}, []string{"slack-cx"}},
		{"labels: every label must match", Attributes{Severity: alert.Low, Touchpoint: "delivery", Labels: map[string]string{"team": "logistics", "region": "eu"}}, []string{"logistics", "crm-webhook"}},
		{"labels: a wrong value does not match", Attributes{Severity: alert.Low, Touchpoint: "delivery", Labels: map[string]string{"team": "support"}}, []string{"slack-cx"}},
		{"labels: an absent label is the empty value", Attributes{Severity: alert.Low, Touchpoint: "delivery", Labels: map[string]string{"region": "us"}}, []string{"crm-webhook"}},
		{"labels: without labels a label match fails", Attributes{Severity: alert.Low, Touchpoint: "delivery"}, []string{"slack-cx"}},
		{"labels: the touchpoint must match as well", Attributes{Severity: alert.Low, Touchpoint: "checkout", Labels: map[string]string{"team": "logistics", "region": "eu"}}, []string{"slack-cx"}},
		{"min severity: medium and above", Attributes{Severity: alert.High}, []string{"pagerduty-vip"}},
		{"min severity: below it the default", Attributes{Severity: alert.Low}, []string{"slack-cx"}},
		{"dedup: matched twice, listed once", Attributes{Severity: alert.Critical, ValueLevel: "high", Tier: "new"}, []string{"pagerduty-vip"}},
		{"an out-of-range severity matches no severity route", Attributes{Severity: alert.Severity(9), Tier: "lost"}, []string{"slack-cx"}},
	} {
		if got := tree.Route(tc.a); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDefaultTree(t *testing.T) {
	tree, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    Attributes
		want []string
	}{
		{"critical", Attributes{Severity: alert.Critical, ValueLevel: "low"}, []string{"pagerduty", "slack", "webhook"}},
		{"critical, high value: paged once", Attributes{Severity: alert.Critical, ValueLevel: "high"}, []string{"pagerduty", "slack", "webhook"}},
		{"high, high value", Attributes{Severity: alert.High, ValueLevel: "high"}, []string{"pagerduty", "slack", "webhook"}},
		{"high, medium value", Attributes{Severity: alert.High, ValueLevel: "medium"}, []string{"slack", "webhook"}},
		{"medium, high value", Attributes{Severity: alert.Medium, ValueLevel: "high"}, []string{"slack", "webhook"}},
		{"low", Attributes{Severity: alert.Low}, []string{"slack", "webhook"}},
	} {
		if got := tree.Route(tc.a); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	want := []Receiver{
		{Name: "pagerduty", Kind: PagerDuty, RoutingKeyEnv: "FEEDLOOP_ALERTING_PAGERDUTY_ROUTING_KEY"},
		{Name: "slack", Kind: Slack, URLEnv: "FEEDLOOP_ALERTING_SLACK_URL"},
		{Name: "webhook", Kind: Webhook, URLEnv: "FEEDLOOP_ALERTING_WEBHOOK_URL", SecretEnv: "FEEDLOOP_ALERTING_WEBHOOK_SECRET"},
	}
	if got := tree.Receivers(); !slices.Equal(got, want) {
		t.Errorf("receivers %+v, want %+v", got, want)
	}
	for level, want := range []string{1: "slack", 2: "pagerduty"} {
		if got, ok := tree.Escalation(level); level > 0 && (!ok || got != want) {
			t.Errorf("escalation level %d: %q, %v; want %q", level, got, ok, want)
		}
	}
}

func TestReceivers(t *testing.T) {
	tree := load(t, testTree)
	got := tree.Receivers()
	if len(got) != 5 || got[2] != (Receiver{Name: "pagerduty-vip", Kind: PagerDuty, RoutingKeyEnv: "FEEDLOOP_PD_VIP_KEY", URLEnv: "FEEDLOOP_PD_URL"}) {
		t.Errorf("receivers %+v", got)
	}
	got[0].Name = "changed"
	if r, ok := tree.Receiver("slack-cx"); !ok || r.Kind != Slack || r.URLEnv != "FEEDLOOP_SLACK_CX_URL" {
		t.Errorf("Receiver(slack-cx) = %+v, %v (or Receivers shares the tree's slice)", r, ok)
	}
	if _, ok := tree.Receiver("nobody"); ok {
		t.Error("Receiver(nobody) found")
	}
}

func TestEscalation(t *testing.T) {
	tree := load(t, testTree)
	for _, tc := range []struct {
		level int
		want  string
		ok    bool
	}{
		{-1, "", false},
		{0, "", false},
		{1, "slack-vip", true},
		{2, "pagerduty-vip", true},
		{3, "", false},
	} {
		if got, ok := tree.Escalation(tc.level); got != tc.want || ok != tc.ok {
			t.Errorf("level %d: %q, %v; want %q, %v", tc.level, got, ok, tc.want, tc.ok)
		}
	}
	none := load(t, "receivers: [{name: a, slack: {url_env: A}}]\nroute: {receiver: a}")
	if _, ok := none.Escalation(1); ok {
		t.Error("escalation without an escalation list")
	}
}

func TestBrokenFilesFailWithTheItemNamed(t *testing.T) {
	const recv = "receivers: [{name: a, slack: {url_env: A_URL}}, {name: b, webhook: {url_env: B_URL, secret_env: B_SECRET}}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty file", "", "the file is empty"},
		{"not yaml", "receivers: [", "yaml"},
		{"unknown top-level field", recv + "route: {receiver: a}\nroutez: []", "field routez not found"},
		{"unknown route field", recv + "route: {receiver: a, routes: [{receivr: b}]}", "field receivr not found"},
		{"unknown match field", recv + "route: {receiver: a, routes: [{match: {severty: high}, receiver: b}]}", "field severty not found"},
		{"unknown receiver field", "receivers: [{name: a, slack: {url_env: A, token_env: T}}]\nroute: {receiver: a}", "field token_env not found"},
		{"unknown receiver kind", "receivers: [{name: a, email: {to: x}}]\nroute: {receiver: a}", "field email not found"},
		{"no receivers", "route: {receiver: a}", "no receivers"},
		{"receiver without name", "receivers: [{slack: {url_env: A}}]\nroute: {receiver: a}", "receiver 1 has no name"},
		{"bad receiver name", "receivers: [{name: Slack CX, slack: {url_env: A}}]\nroute: {receiver: a}", `receiver name "Slack CX"`},
		{"duplicate receiver", "receivers: [{name: a, slack: {url_env: A}}, {name: b, slack: {url_env: B}}, {name: a, slack: {url_env: C}}]\nroute: {receiver: a}", `receiver "a" is defined twice`},
		{"receiver without kind", "receivers: [{name: a}]\nroute: {receiver: a}", `receiver "a" has no kind`},
		{"receiver with two kinds", "receivers: [{name: a, slack: {url_env: A}, webhook: {url_env: B, secret_env: C}}]\nroute: {receiver: a}", `receiver "a" has several kinds (slack, webhook)`},
		{"slack without url_env", "receivers: [{name: a, slack: {}}]\nroute: {receiver: a}", `receiver "a": slack.url_env is required`},
		{"pagerduty without key", "receivers: [{name: a, pagerduty: {url_env: U}}]\nroute: {receiver: a}", `receiver "a": pagerduty.routing_key_env is required`},
		{"webhook without secret", "receivers: [{name: a, webhook: {url_env: U}}]\nroute: {receiver: a}", `receiver "a": webhook.secret_env is required`},
		{"a URL instead of a variable name", "receivers: [{name: a, slack: {url_env: 'https://hooks.slack.com/services/T0/B0/x'}}]\nroute: {receiver: a}", `receiver "a": slack.url_env "https://hooks.slack.com/services/T0/B0/x" is not an environment variable name`},
		{"a secret instead of a variable name", "receivers: [{name: a, webhook: {url_env: U, secret_env: whsec_abc}}]\nroute: {receiver: a}", `webhook.secret_env "whsec_abc" is not an environment variable name`},
		{"no route", recv, "route has no receiver"},
		{"no default receiver", recv + "route: {routes: [{receiver: a}]}", "route has no receiver"},
		{"match on the top route", recv + "route: {receiver: a, match: {tier: x}}", "top route matches every case"},
		{"unknown default receiver", recv + "route: {receiver: c}", `route: unknown receiver "c"`},
		{"unknown receiver in a child", recv + "route: {receiver: a, routes: [{receiver: b}, {receiver: c}]}", `route.routes[1]: unknown receiver "c"`},
		{"unknown receiver nested", recv + "route: {receiver: a, routes: [{receiver: b, routes: [{receiver: b}, {receiver: zz}]}]}", `route.routes[0].routes[1]: unknown receiver "zz"`},
		{"empty child route", recv + "route: {receiver: a, routes: [~]}", "route.routes[0] is empty"},
		{"unknown severity", recv + "route: {receiver: a, routes: [{match: {severity: [high, urgent]}, receiver: b}]}", `route.routes[0]: match.severity: severity "urgent" is not low, medium, high or critical`},
		{"unknown min severity", recv + "route: {receiver: a, routes: [{routes: [{match: {min_severity: severe}}]}]}", `route.routes[0].routes[0]: match.min_severity: severity "severe"`},
		{"severity and min severity", recv + "route: {receiver: a, routes: [{match: {severity: low, min_severity: high}}]}", "route.routes[0]: match: give severity or min_severity, not both"},
		{"empty severity list", recv + "route: {receiver: a, routes: [{match: {severity: []}}]}", "route.routes[0]: match.severity is empty"},
		{"null tier", recv + "route: {receiver: a, routes: [{match: {tier: }}]}", "line 2: match.tier is empty"},
		{"null min severity", recv + "route: {receiver: a, routes: [{match: {min_severity: ~}}]}", "line 2: match.min_severity is empty"},
		{"null label", recv + "route: {receiver: a, routes: [{match: {labels: {team: }}}]}", "route.routes[0]: match.labels.team is empty"},
		{"match not a map", recv + "route: {receiver: a, routes: [{match: [tier]}]}", "match must be a map"},
		{"empty label list", recv + "route: {receiver: a, routes: [{match: {labels: {team: []}}}]}", "route.routes[0]: match.labels.team is empty"},
		{"bad value level", recv + "route: {receiver: a, routes: [{match: {value_level: [high, huge]}}]}", `route.routes[0]: match.value_level "huge" is not high, medium or low`},
		{"a map where a string is due", recv + "route: {receiver: a, routes: [{match: {tier: {a: b}}}]}", "want a string or a list of strings"},
		{"a list in a list", recv + "route: {receiver: a, routes: [{match: {channel: [[email]]}}]}", "want a string"},
		{"unknown escalation receiver", recv + "route: {receiver: a}\nescalation: [a, pager]", `escalation[1]: unknown receiver "pager"`},
		{"continue on the top route", recv + "route: {receiver: a, continue: true}", "continue is for child routes"},
	} {
		_, err := Load(strings.NewReader(tc.yaml), "my-routes.yaml")
		if err == nil || !strings.Contains(err.Error(), "alert routing my-routes.yaml: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkRoute routes a critical high-value case, which matches three
// routes of the default tree:
//
//	go test -run '^$' -bench Route -cpu 1 ./internal/routing
func BenchmarkRoute(b *testing.B) {
	tree, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	a := Attributes{Severity: alert.Critical, Tier: "champion", ValueLevel: "high", Channel: "email", Touchpoint: "delivery",
		Labels: map[string]string{"team": "logistics"}}
	b.ReportAllocs()
	for b.Loop() {
		tree.Route(a)
	}
}
