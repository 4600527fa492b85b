// Package routing selects the receivers of a recovery case with an
// Alertmanager-style routing tree read from a YAML file (default.yaml
// unless the service is given another). The file is checked when it is
// loaded: a broken file fails start-up with the file and the route or
// receiver named.
//
// The file:
//
//	receivers:                  # at least one; names are unique
//	  - name: slack-cx
//	    slack: {url_env: FEEDLOOP_SLACK_CX_URL}
//	  - name: pagerduty-vip
//	    pagerduty: {routing_key_env: FEEDLOOP_PD_VIP_KEY}   # url_env: optional, overrides the Events API URL
//	  - name: crm-webhook
//	    webhook: {url_env: FEEDLOOP_CRM_WEBHOOK_URL, secret_env: FEEDLOOP_CRM_WEBHOOK_SECRET}
//	route:
//	  receiver: slack-cx        # the default receiver: required here
//	  routes:
//	    - match: {severity: [critical], value_level: high}
//	      receiver: pagerduty-vip
//	      continue: true
//	      routes: [...]         # nested, optional
//	    - match: {touchpoint: delivery, labels: {team: logistics}}
//	      receiver: crm-webhook
//	escalation: [slack-cx, pagerduty-vip]   # optional: level 1, level 2, ...
//
// A receiver has exactly one kind (slack, pagerduty or webhook) and names
// only environment variables (upper-case letters, digits and _) holding its
// URL, routing key or secret: values never go in the file. A slack receiver
// needs url_env; pagerduty needs routing_key_env (url_env optional); webhook
// needs url_env and secret_env, the Standard Webhooks signing secret.
//
// Matching: a route's match holds when every field it gives holds; a field
// is a string or a list of strings, a list meaning any of them. The fields
// are severity (low, medium, high, critical), min_severity (at least that
// severity; not together with severity), tier, value_level (high, medium,
// low), channel, touchpoint and labels (a map of label to value or values;
// a label the case lacks has the value ""). A route without match matches
// every case.
//
// Routing is depth-first, as in Alertmanager: the top route has no match
// and matches every case; within a route, the child routes are tried in order and the first
// that matches wins, unless it has continue: true, in which case the later
// siblings are tried too. A matching child routes the case through its own
// children the same way; a route none of whose children matches gives its
// own receiver (a child without receiver inherits its parent's). The result
// is the receivers in the order found, each once.
//
// Escalation: the optional top-level escalation list names the receiver of
// each escalation level of a case left unacknowledged, level 1 first.
package routing

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"

	"github.com/feedloop/feedloop/pkg/config"
)

//go:embed default.yaml
var defaultTree []byte

// Attributes are what a route can match of a case.
type Attributes struct {
	Severity   alert.Severity
	Tier       string // the customer's tier, e.g. "champion"
	ValueLevel string // high, medium or low
	Channel    string // the feedback's channel, e.g. "email"
	Touchpoint string // e.g. "delivery"
	Labels     map[string]string
}

// Kind is a receiver's kind.
type Kind string

// Receiver kinds.
const (
	Slack     Kind = "slack"     // Slack-compatible incoming webhook
	PagerDuty Kind = "pagerduty" // PagerDuty Events API v2
	Webhook   Kind = "webhook"   // JSON webhook signed per Standard Webhooks
)

// Receiver is where notifications go: its kind and the names of the
// environment variables holding its URL and secrets ("" when not given).
type Receiver struct {
	Name          string
	Kind          Kind
	URLEnv        string // slack, webhook: the URL; pagerduty: optional, the Events API URL
	RoutingKeyEnv string // pagerduty: the integration's routing key
	SecretEnv     string // webhook: the signing secret
}

// Tree is a loaded routing file.
type Tree struct {
	receivers  []Receiver
	byName     map[string]int
	root       *route
	escalation []string
}

type route struct {
	receiver    string
	severities  uint8 // bit s set: severity s matches; 0: any
	tiers       []string
	valueLevels []string
	channels    []string
	touchpoints []string
	labels      []labelMatch
	cont        bool
	routes      []*route
}

type labelMatch struct {
	name   string
	values []string
}

type file struct {
	Receivers []struct {
		Name  string `yaml:"name"`
		Slack *struct {
			URLEnv string `yaml:"url_env"`
		} `yaml:"slack"`
		PagerDuty *struct {
			RoutingKeyEnv string `yaml:"routing_key_env"`
			URLEnv        string `yaml:"url_env"`
		} `yaml:"pagerduty"`
		Webhook *struct {
			URLEnv    string `yaml:"url_env"`
			SecretEnv string `yaml:"secret_env"`
		} `yaml:"webhook"`
	} `yaml:"receivers"`
	Route      *rawRoute `yaml:"route"`
	Escalation []string  `yaml:"escalation"`
}

type rawRoute struct {
	Match    *rawMatch   `yaml:"match"`
	Receiver string      `yaml:"receiver"`
	Continue bool        `yaml:"continue"`
	Routes   []*rawRoute `yaml:"routes"`
}

type rawMatch struct {
	Severity    stringList            `yaml:"severity"`
	MinSeverity string                `yaml:"min_severity"`
	Tier        stringList            `yaml:"tier"`
	ValueLevel  stringList            `yaml:"value_level"`
	Channel     stringList            `yaml:"channel"`
	Touchpoint  stringList            `yaml:"touchpoint"`
	Labels      map[string]stringList `yaml:"labels"`
}

var matchFields = map[string]bool{"severity": true, "min_severity": true, "tier": true,
	"value_level": true, "channel": true, "touchpoint": true, "labels": true}

// UnmarshalYAML rejects a field left empty (tier: with no value), which
// would otherwise read as absent and match any case. The YAML decoder does
// not pass KnownFields on to node.Decode, so unknown fields are checked here.
func (m *rawMatch) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: match must be a map", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !matchFields[k.Value] {
			return fmt.Errorf("line %d: field %s not found in match (give severity, min_severity, tier, value_level, channel, touchpoint or labels)", k.Line, k.Value)
		}
		if v.ShortTag() == "!!null" {
			return fmt.Errorf("line %d: match.%s is empty (leave it out to match any)", v.Line, k.Value)
		}
	}
	type plain rawMatch
	return n.Decode((*plain)(m))
}

// stringList is a string or a list of strings. An empty value decodes to an
// empty, non-nil list, which Load rejects.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		*l = stringList{}
	case n.Kind == yaml.ScalarNode:
		*l = stringList{n.Value}
	case n.Kind == yaml.SequenceNode:
		out := make(stringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind == yaml.AliasNode {
				c = c.Alias
			}
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a string", c.Line)
			}
			out = append(out, c.Value)
		}
		*l = out
	default:
		return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
	}
	return nil
}

// envField is a receiver's field naming an environment variable.
type envField struct {
	field, value string
	required     bool
}

// Receiver names are used in stream subjects, keys and metrics.

var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// Default returns the routing tree shipped with the service (default.yaml).
func Default() (*Tree, error) { return Load(bytes.NewReader(defaultTree), "default.yaml") }

// Load reads and checks a routing file; name is used in errors.
func Load(r io.Reader, name string) (*Tree, error) {
	var f file
	if err := config.DecodeYAML(r, &f); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the file is empty")
		}
		return nil, fmt.Errorf("alert routing %s: %w", name, err)
	}
	fail := func(format string, args ...any) (*Tree, error) {
		return nil, fmt.Errorf("alert routing %s: "+format, append([]any{name}, args...)...)
	}
	if len(f.Receivers) == 0 {
		return fail("no receivers")
	}
	t := &Tree{byName: make(map[string]int, len(f.Receivers))}
	for i, raw := range f.Receivers {
		if raw.Name == "" {
			return fail("receiver %d has no name", i+1)
		}
		if err := config.CheckName(raw.Name); err != nil {
			return fail("receiver name %q: %v", raw.Name, err)
		}
		if _, dup := t.byName[raw.Name]; dup {
			return fail("receiver %q is defined twice", raw.Name)
		}
		var kinds []string
		rc := Receiver{Name: raw.Name}
		var envs []envField
		if raw.Slack != nil {
			kinds = append(kinds, string(Slack))
			rc.Kind, rc.URLEnv = Slack, raw.Slack.URLEnv
			envs = append(envs, envField{"slack.url_env", rc.URLEnv, true})
		}
		if raw.PagerDuty != nil {
			kinds = append(kinds, string(PagerDuty))
			rc.Kind, rc.RoutingKeyEnv, rc.URLEnv = PagerDuty, raw.PagerDuty.RoutingKeyEnv, raw.PagerDuty.URLEnv
			envs = append(envs, envField{"pagerduty.routing_key_env", rc.RoutingKeyEnv, true}, envField{"pagerduty.url_env", rc.URLEnv, false})
		}
		if raw.Webhook != nil {
			kinds = append(kinds, string(Webhook))
			rc.Kind, rc.URLEnv, rc.SecretEnv = Webhook, raw.Webhook.URLEnv, raw.Webhook.SecretEnv
			envs = append(envs, envField{"webhook.url_env", rc.URLEnv, true}, envField{"webhook.secret_env", rc.SecretEnv, true})
		}
		switch len(kinds) {
		case 0:
			return fail("receiver %q has no kind (give one of slack, pagerduty, webhook)", raw.Name)
		case 1:
		default:
			return fail("receiver %q has several kinds (%s): give one", raw.Name, strings.Join(kinds, ", "))
		}
		for _, e := range envs {
			switch {
			case e.value == "" && e.required:
				return fail("receiver %q: %s is required (the name of an environment variable)", raw.Name, e.field)
			case e.value != "" && !envName.MatchString(e.value):
				return fail("receiver %q: %s %q is not an environment variable name (A-Z, 0-9 and _; the value goes in the environment, not the file)", raw.Name, e.field, e.value)
			}
		}
		t.byName[raw.Name] = len(t.receivers)
		t.receivers = append(t.receivers, rc)
	}
	if f.Route == nil || f.Route.Receiver == "" {
		return fail("route has no receiver (the default receiver: route: {receiver: ...})")
	}
	if f.Route.Match != nil {
		return fail("route: the top route matches every case; give match on its routes")
	}
	if f.Route.Continue {
		return fail("route: continue is for child routes")
	}
	root, err := t.compile(f.Route, "route", "")
	if err != nil {
		return nil, fmt.Errorf("alert routing %s: %w", name, err)
	}
	t.root = root
	for i, rc := range f.Escalation {
		if _, ok := t.byName[rc]; !ok {
			return fail("escalation[%d]: unknown receiver %q", i, rc)
		}
	}
	t.escalation = f.Escalation
	return t, nil
}

// compile checks a route and its children; path names it in errors and
// parent is the receiver it inherits.
func (t *Tree) compile(raw *rawRoute, path, parent string) (*route, error) {
	if raw == nil {
		return nil, fmt.Errorf("%s is empty", path)
	}
	r := &route{receiver: raw.Receiver, cont: raw.Continue}
	if r.receiver == "" {
		r.receiver = parent
	} else if _, ok := t.byName[r.receiver]; !ok {
		return nil, fmt.Errorf("%s: unknown receiver %q", path, r.receiver)
	}
	if m := raw.Match; m != nil {
		var err error
		if r.severities, err = severities(m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, l := range []struct {
			field string
			list  stringList
			to    *[]string
		}{
			{"tier", m.Tier, &r.tiers},
			{"value_level", m.ValueLevel, &r.valueLevels},
			{"channel", m.Channel, &r.channels},
			{"touchpoint", m.Touchpoint, &r.touchpoints},
		} {
			if l.list != nil && len(l.list) == 0 {
				return nil, fmt.Errorf("%s: match.%s is empty (leave it out to match any)", path, l.field)
			}
			*l.to = l.list
		}
		for _, v := range r.valueLevels {
			switch v {
			case "high", "medium", "low":
			default:
				return nil, fmt.Errorf("%s: match.value_level %q is not high, medium or low", path, v)
			}
		}
		labels := make([]string, 0, len(m.Labels))
		for k := range m.Labels {
			labels = append(labels, k)
		}
		slices.Sort(labels)
		for _, k := range labels {
			if len(m.Labels[k]) == 0 {
				return nil, fmt.Errorf("%s: match.labels.%s is empty (leave it out to match any)", path, k)
			}
			r.labels = append(r.labels, labelMatch{k, m.Labels[k]})
		}
	}
	for i, c := range raw.Routes {
		child, err := t.compile(c, fmt.Sprintf("%s.routes[%d]", path, i), r.receiver)
		if err != nil {
			return nil, err
		}
		r.routes = append(r.routes, child)
	}
	return r, nil
}

// severities reads match.severity or match.min_severity into a bit set.
func severities(m *rawMatch) (uint8, error) {
	if m.Severity != nil && m.MinSeverity != "" {
		return 0, errors.New("match: give severity or min_severity, not both")
	}
	if m.Severity != nil && len(m.Severity) == 0 {
		return 0, errors.New("match.severity is empty (leave it out to match any)")
	}
	var set uint8
	for _, name := range m.Severity {
		s, err := alert.ParseSeverity(name)
		if err != nil {
			return 0, fmt.Errorf("match.severity: %w", err)
		}
		set |= 1 << s
	}
	if m.MinSeverity != "" {
		least, err := alert.ParseSeverity(m.MinSeverity)
		if err != nil {
			return 0, fmt.Errorf("match.min_severity: %w", err)
		}
		for s := least; s <= alert.Critical; s++ {
			set |= 1 << s
		}
	}
	return set, nil
}

// Receivers are the file's receivers, in file order.
func (t *Tree) Receivers() []Receiver { return slices.Clone(t.receivers) }

// Receiver returns the receiver named name.
func (t *Tree) Receiver(name string) (Receiver, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Receiver{}, false
	}
	return t.receivers[i], true
}

// Escalation returns the receiver of escalation level (1 is the first
// escalation); ok is false past the last level, or without escalation.
func (t *Tree) Escalation(level int) (receiver string, ok bool) {
	if level < 1 || level > len(t.escalation) {
		return "", false
	}
	return t.escalation[level-1], true
}

// Route returns the names of the receivers of a case with attributes a, in
// the order routed, each once; never empty.
func (t *Tree) Route(a Attributes) []string {
	return t.root.collect(&a, make([]string, 0, 4))
}

func (r *route) collect(a *Attributes, out []string) []string {
	matched := false
	for _, c := range r.routes {
		if !c.matches(a) {
			continue
		}
		matched = true
		out = c.collect(a, out)
		if !c.cont {
			break
		}
	}
	if !matched && !slices.Contains(out, r.receiver) {
		out = append(out, r.receiver)
	}
	return out
}

func (r *route) matches(a *Attributes) bool {
	if r.severities != 0 && (a.Severity < 0 || a.Severity > alert.Critical || r.severities&(1<<a.Severity) == 0) {
		return false
	}
	if !anyOf(r.tiers, a.Tier) || !anyOf(r.valueLevels, a.ValueLevel) ||
		!anyOf(r.channels, a.Channel) || !anyOf(r.touchpoints, a.Touchpoint) {
		return false
	}
	for _, l := range r.labels {
		if !slices.Contains(l.values, a.Labels[l.name]) {
			return false
		}
	}
	return true
}

// anyOf reports whether v is in list, a nil list holding any value.
func anyOf(list []string, v string) bool {
	return list == nil || slices.Contains(list, v)
}
