// Package rules decides which recovery rules an evaluated event matches:
// each rule is a CEL condition over the event (feedback, scores, profile,
// tier, value level, tier change), with a severity (fixed, or by tier and
// value level), a summary template and labels, read from a YAML file
// (default.yaml unless the service is given another). Every rule is
// compiled and type-checked when the file is loaded: a broken file fails
// start-up with the rule's name and the error.
package rules

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"

	"github.com/feedloop/feedloop/pkg/celx"
	"github.com/feedloop/feedloop/pkg/config"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
)

//go:embed default.yaml
var defaultRules []byte

// Event kinds.
const (
	Feedback   = "feedback"    // scored feedback, evaluated
	Activity   = "activity"    // a purchase or contact, evaluated
	TierChange = "tier_change" // a tier change on its own (the sweep's)
)

// Vars are what a rule can read about an event and its customer.
type Vars struct {
	// CustomerID is for summaries only: rules cannot read it.
	CustomerID string
	Kind       string
	// Feedback: the NPS answer (-1 without), its class, the experience
	// score (0–100), comment sentiment (-1…1), complaint and its category
	// and severity (none, low, medium, high, critical).
	NPS                                  int64
	NPSClass                             string
	Experience, Sentiment                float64
	HasComment, Complaint                bool
	ComplaintCategory, ComplaintSeverity string
	Channel, Touchpoint                  string
	Attributes                           map[string]string
	// The customer after the event, and before it.
	Tier, PreviousTier, ValueLevel, Lifecycle string
	ChurnRisk, PreviousChurnRisk              float64
	Satisfaction, SatisfactionTrend           float64
	HasSatisfaction                           bool
	Recency, Frequency, Monetary              int64
	Detractors90d, Complaints90d              int64
}

// variables declares each variable's name and type, and reads it from Vars.
var variables = []celx.Var[Vars]{
	{Name: "kind", Type: cel.StringType, Get: func(v *Vars) any { return v.Kind }},
	{Name: "nps", Type: cel.IntType, Get: func(v *Vars) any { return v.NPS }},
	{Name: "nps_class", Type: cel.StringType, Get: func(v *Vars) any { return v.NPSClass }},
	{Name: "experience", Type: cel.DoubleType, Get: func(v *Vars) any { return v.Experience }},
	{Name: "sentiment", Type: cel.DoubleType, Get: func(v *Vars) any { return v.Sentiment }},
	{Name: "has_comment", Type: cel.BoolType, Get: func(v *Vars) any { return v.HasComment }},
	{Name: "complaint", Type: cel.BoolType, Get: func(v *Vars) any { return v.Complaint }},
	{Name: "complaint_category", Type: cel.StringType, Get: func(v *Vars) any { return v.ComplaintCategory }},
	{Name: "complaint_severity", Type: cel.StringType, Get: func(v *Vars) any { return v.ComplaintSeverity }},
	{Name: "channel", Type: cel.StringType, Get: func(v *Vars) any { return v.Channel }},
	{Name: "touchpoint", Type: cel.StringType, Get: func(v *Vars) any { return v.Touchpoint }},
	{Name: "attributes", Type: cel.MapType(cel.StringType, cel.StringType), Get: func(v *Vars) any { return attributes(v.Attributes) }},
	{Name: "tier", Type: cel.StringType, Get: func(v *Vars) any { return v.Tier }},
	{Name: "previous_tier", Type: cel.StringType, Get: func(v *Vars) any { return v.PreviousTier }},
	{Name: "value_level", Type: cel.StringType, Get: func(v *Vars) any { return v.ValueLevel }},
	{Name: "lifecycle", Type: cel.StringType, Get: func(v *Vars) any { return v.Lifecycle }},
	{Name: "churn_risk", Type: cel.DoubleType, Get: func(v *Vars) any { return v.ChurnRisk }},
	{Name: "previous_churn_risk", Type: cel.DoubleType, Get: func(v *Vars) any { return v.PreviousChurnRisk }},
	{Name: "satisfaction", Type: cel.DoubleType, Get: func(v *Vars) any { return v.Satisfaction }},
	{Name: "satisfaction_trend", Type: cel.DoubleType, Get: func(v *Vars) any { return v.SatisfactionTrend }},
	{Name: "has_satisfaction", Type: cel.BoolType, Get: func(v *Vars) any { return v.HasSatisfaction }},
	{Name: "recency", Type: cel.IntType, Get: func(v *Vars) any { return v.Recency }},
	{Name: "frequency", Type: cel.IntType, Get: func(v *Vars) any { return v.Frequency }},
	{Name: "monetary", Type: cel.IntType, Get: func(v *Vars) any { return v.Monetary }},
	{Name: "detractors_90d", Type: cel.IntType, Get: func(v *Vars) any { return v.Detractors90d }},
	{Name: "complaints_90d", Type: cel.IntType, Get: func(v *Vars) any { return v.Complaints90d }},
}

func attributes(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Severity says how urgent a rule's case is: a fixed severity, or one
// chosen by the customer's tier, then value level, then a default.
type Severity struct {
	Fixed        alert.Severity
	ByTier       map[string]alert.Severity
	ByValueLevel map[string]alert.Severity
	Default      alert.Severity
}

// For is the severity for a customer of tier and value level.
func (s Severity) For(tier, valueLevel string) alert.Severity {
	if s.Fixed != alert.NoSeverity {
		return s.Fixed
	}
	if sev, ok := s.ByTier[tier]; ok {
		return sev
	}
	if sev, ok := s.ByValueLevel[valueLevel]; ok {
		return sev
	}
	return s.Default
}

// Match is a rule an event matched.
type Match struct {
	Rule     string
	Severity alert.Severity
	Summary  string
	Labels   map[string]string
}

// Rule is a compiled rule.
type Rule struct {
	Name     string
	Severity Severity
	Labels   map[string]string
	when     *celx.Condition[Vars]
	summary  *template.Template
}

// Rules are a compiled rule file, in file order.
type Rules struct {
	env   *celx.Env[Vars]
	rules []Rule
}

// Names are the rule names, in file order.
func (rs *Rules) Names() []string {
	names := make([]string, len(rs.rules))
	for i, r := range rs.rules {
		names[i] = r.Name
	}
	return names
}

// severitySpec is a rule's severity in the file: a name, or a mapping.
type severitySpec struct {
	Fixed        string            `yaml:"-"`
	ByTier       map[string]string `yaml:"by_tier"`
	ByValueLevel map[string]string `yaml:"by_value_level"`
	Default      string            `yaml:"default"`
}

func (s *severitySpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&s.Fixed)
	}
	type plain severitySpec // without this method
	return n.Decode((*plain)(s))
}

type file struct {
	Rules []struct {
		Name     string            `yaml:"name"`
		When     string            `yaml:"when"`
		Severity *severitySpec     `yaml:"severity"`
		Summary  string            `yaml:"summary"`
		Labels   map[string]string `yaml:"labels"`
	} `yaml:"rules"`
}

// Default returns the rules shipped with the service (default.yaml).
func Default() (*Rules, error) { return Load(bytes.NewReader(defaultRules), "default.yaml") }

// Load reads and compiles a rule file; name is used in errors.
func Load(r io.Reader, name string) (*Rules, error) {
	var f file
	if err := config.DecodeYAML(r, &f); err != nil {
		return nil, fmt.Errorf("alert rules %s: %w", name, err)
	}
	fail := func(format string, args ...any) (*Rules, error) {
		return nil, fmt.Errorf("alert rules %s: "+format, append([]any{name}, args...)...)
	}
	if len(f.Rules) == 0 {
		return fail("no rules")
	}
	env, err := celx.NewEnv(variables)
	if err != nil {
		return nil, err
	}
	rs := &Rules{env: env}
	seen := map[string]bool{}
	for i, fr := range f.Rules {
		if err := config.CheckName(fr.Name); err != nil {
			return fail("rule %d: name %q: %v", i+1, fr.Name, err)
		}
		if seen[fr.Name] {
			return fail("rule %q is defined twice", fr.Name)
		}
		seen[fr.Name] = true
		rule := Rule{Name: fr.Name, Labels: fr.Labels}
		if rule.when, err = env.Compile(fr.When); err != nil {
			return fail("rule %q: %v", fr.Name, err)
		}
		if rule.Severity, err = severity(fr.Severity); err != nil {
			return fail("rule %q: %v", fr.Name, err)
		}
		if fr.Summary == "" {
			return fail("rule %q: empty `summary`", fr.Name)
		}
		if rule.summary, err = summaryTemplate(fr.Name, fr.Summary); err != nil {
			return fail("rule %q: summary: %v", fr.Name, err)
		}
		rs.rules = append(rs.rules, rule)
	}
	return rs, nil
}

func severity(spec *severitySpec) (Severity, error) {
	if spec == nil {
		return Severity{}, errors.New("no `severity` (low, medium, high, critical, or by_tier / by_value_level with a default)")
	}
	if spec.Fixed != "" {
		s, err := alert.ParseSeverity(spec.Fixed)
		return Severity{Fixed: s}, err
	}
	var s Severity
	var err error
	if s.Default, err = alert.ParseSeverity(spec.Default); err != nil {
		return Severity{}, fmt.Errorf("severity default: %w", err)
	}
	for _, m := range []struct {
		what string
		in   map[string]string
		out  *map[string]alert.Severity
	}{{"by_tier", spec.ByTier, &s.ByTier}, {"by_value_level", spec.ByValueLevel, &s.ByValueLevel}} {
		*m.out = make(map[string]alert.Severity, len(m.in))
		for k, v := range m.in {
			if m.what == "by_value_level" && k != "high" && k != "medium" && k != "low" {
				return Severity{}, fmt.Errorf("severity by_value_level: %q is not high, medium or low", k)
			}
			if (*m.out)[k], err = alert.ParseSeverity(v); err != nil {
				return Severity{}, fmt.Errorf("severity %s %s: %w", m.what, k, err)
			}
		}
	}
	return s, nil
}

// summaryTemplate parses a summary and runs it once on an empty event, so
// that a field that does not exist fails at load, not at the first match.
func summaryTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(io.Discard, &Vars{}); err != nil {
		return nil, err
	}
	return t, nil
}

// Evaluate returns the rules v matches, in file order. A rule that fails at
// run time (it cannot after type-checking, short of a bug) does not match.
func (rs *Rules) Evaluate(v *Vars) []Match {
	in := rs.env.Input(v)
	var out []Match
	for i := range rs.rules {
		r := &rs.rules[i]
		if !r.when.Holds(in) {
			continue
		}
		var summary strings.Builder
		if err := r.summary.Execute(&summary, v); err != nil {
			summary.Reset()
			summary.WriteString(r.Name)
		}
		out = append(out, Match{Rule: r.Name, Severity: r.Severity.For(v.Tier, v.ValueLevel), Summary: summary.String(), Labels: r.Labels})
	}
	return out
}
