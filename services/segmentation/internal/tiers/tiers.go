// Package tiers assigns a customer's tier and value level with an ordered
// list of CEL rules read from a YAML file (default.yaml unless the service
// is given another). Every rule is compiled and type-checked when the file
// is loaded: a broken file fails start-up with the rule's name and the error.
package tiers

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	"cel.dev/cel-go/cel"

	"github.com/feedloop/feedloop/pkg/celx"
	"github.com/feedloop/feedloop/pkg/config"
)

//go:embed default.yaml
var defaultRules []byte

// Vars are what a rule can read about the customer.
type Vars struct {
	Recency, Frequency, Monetary int64 // RFM, 1–5
	ChurnRisk                    float64
	Lifecycle                    string // new, active, loyal, declining, lapsed
	LatestNPS                    string // promoter, passive, detractor, or ""
	Satisfaction, Trend          float64
	HasSatisfaction              bool
	Purchases, Purchases90d      int64
	Purchases365d                int64
	Feedback                     int64
	Detractors30d, Detractors90d int64
	Complaints30d, Complaints90d int64
	DaysSinceLastSeen            float64
}

// variables declares each variable's name and type, and reads it from Vars.
var variables = []celx.Var[Vars]{
	{Name: "recency", Type: cel.IntType, Get: func(v *Vars) any { return v.Recency }},
	{Name: "frequency", Type: cel.IntType, Get: func(v *Vars) any { return v.Frequency }},
	{Name: "monetary", Type: cel.IntType, Get: func(v *Vars) any { return v.Monetary }},
	{Name: "churn_risk", Type: cel.DoubleType, Get: func(v *Vars) any { return v.ChurnRisk }},
	{Name: "lifecycle", Type: cel.StringType, Get: func(v *Vars) any { return v.Lifecycle }},
	{Name: "latest_nps", Type: cel.StringType, Get: func(v *Vars) any { return v.LatestNPS }},
	{Name: "satisfaction", Type: cel.DoubleType, Get: func(v *Vars) any { return v.Satisfaction }},
	{Name: "satisfaction_trend", Type: cel.DoubleType, Get: func(v *Vars) any { return v.Trend }},
	{Name: "has_satisfaction", Type: cel.BoolType, Get: func(v *Vars) any { return v.HasSatisfaction }},
	{Name: "purchases", Type: cel.IntType, Get: func(v *Vars) any { return v.Purchases }},
	{Name: "purchases_90d", Type: cel.IntType, Get: func(v *Vars) any { return v.Purchases90d }},
	{Name: "purchases_365d", Type: cel.IntType, Get: func(v *Vars) any { return v.Purchases365d }},
	{Name: "feedback", Type: cel.IntType, Get: func(v *Vars) any { return v.Feedback }},
	{Name: "detractors_30d", Type: cel.IntType, Get: func(v *Vars) any { return v.Detractors30d }},
	{Name: "detractors_90d", Type: cel.IntType, Get: func(v *Vars) any { return v.Detractors90d }},
	{Name: "complaints_30d", Type: cel.IntType, Get: func(v *Vars) any { return v.Complaints30d }},
	{Name: "complaints_90d", Type: cel.IntType, Get: func(v *Vars) any { return v.Complaints90d }},
	{Name: "days_since_last_seen", Type: cel.DoubleType, Get: func(v *Vars) any { return v.DaysSinceLastSeen }},
}

// Tier is a tier and why.
type Tier struct{ Name, Description string }

type rule struct {
	Tier
	when *celx.Condition[Vars]
}

type levelRule struct {
	level string
	when  *celx.Condition[Vars]
}

// Rules are a compiled rule file.
type Rules struct {
	env    *celx.Env[Vars]
	tiers  []rule
	def    Tier
	levels []levelRule
}

type file struct {
	Tiers []struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
		When        string `yaml:"when"`
	} `yaml:"tiers"`
	Default     Tier `yaml:"default"`
	ValueLevels []struct {
		Level string `yaml:"level"`
		When  string `yaml:"when"`
	} `yaml:"value_levels"`
}

// Tier names are used in Redis keys and report fields.

// Names are the tier names in rule order, the default last.
func (rs *Rules) Names() []string {
	names := make([]string, 0, len(rs.tiers)+1)
	for _, t := range rs.tiers {
		names = append(names, t.Name)
	}
	return append(names, rs.def.Name)
}

// Tier returns the tier named name (its description empty when the rules
// have no such tier, e.g. after a rule file changed).
func (rs *Rules) Tier(name string) Tier {
	for _, t := range rs.tiers {
		if t.Name == name {
			return t.Tier
		}
	}
	if rs.def.Name == name {
		return rs.def
	}
	return Tier{Name: name}
}

// Default returns the rules shipped with the service (default.yaml).
func Default() (*Rules, error) { return Load(bytes.NewReader(defaultRules), "default.yaml") }

// Load reads and compiles a rule file; name is used in errors.
func Load(r io.Reader, name string) (*Rules, error) {
	var f file
	if err := config.DecodeYAML(r, &f); err != nil {
		return nil, fmt.Errorf("tier rules %s: %w", name, err)
	}
	fail := func(format string, args ...any) (*Rules, error) {
		return nil, fmt.Errorf("tier rules %s: "+format, append([]any{name}, args...)...)
	}
	if len(f.Tiers) == 0 {
		return fail("no tiers")
	}
	if f.Default.Name == "" {
		return fail("no default tier (default: {name: ..., description: ...})")
	}
	env, err := celx.NewEnv(variables)
	if err != nil {
		return nil, err
	}
	rs := &Rules{env: env, def: f.Default}
	if err := config.CheckName(f.Default.Name); err != nil {
		return fail("default tier name %q: %v", f.Default.Name, err)
	}
	seen := map[string]bool{f.Default.Name: true}
	for i, t := range f.Tiers {
		if t.Name == "" {
			return fail("tier %d has no name", i+1)
		}
		if err := config.CheckName(t.Name); err != nil {
			return fail("tier name %q: %v", t.Name, err)
		}
		if seen[t.Name] {
			return fail("tier %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		when, err := env.Compile(t.When)
		if err != nil {
			return fail("tier %q: %v", t.Name, err)
		}
		rs.tiers = append(rs.tiers, rule{Tier{t.Name, t.Description}, when})
	}
	for i, l := range f.ValueLevels {
		switch l.Level {
		case "high", "medium", "low":
		default:
			return fail("value level %d: level %q is not high, medium or low", i+1, l.Level)
		}
		when, err := env.Compile(l.When)
		if err != nil {
			return fail("value level %q: %v", l.Level, err)
		}
		rs.levels = append(rs.levels, levelRule{l.Level, when})
	}
	return rs, nil
}

// Evaluate returns the customer's tier (the first rule that holds, else the
// default) and value level ("high", "medium" or "low"). A rule that fails
// at run time (it cannot after type-checking, short of a bug) does not hold.
func (rs *Rules) Evaluate(v *Vars) (Tier, string) {
	in := rs.env.Input(v)
	tier := rs.def
	for _, r := range rs.tiers {
		if r.when.Holds(in) {
			tier = r.Tier
			break
		}
	}
	level := "low"
	for _, l := range rs.levels {
		if l.when.Holds(in) {
			level = l.level
			break
		}
	}
	return tier, level
}
