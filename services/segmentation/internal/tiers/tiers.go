// Package tiers assigns a customer's tier and value level with an ordered
// list of CEL rules read from a YAML file (default.yaml unless the service
// is given another). Every rule is compiled and type-checked when the file
// is loaded: a broken file fails start-up with the rule's name and the error.
package tiers

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
	"go.yaml.in/yaml/v3"
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
var variables = []struct {
	name string
	typ  *cel.Type
	get  func(*Vars) any
}{
	{"recency", cel.IntType, func(v *Vars) any { return v.Recency }},
	{"frequency", cel.IntType, func(v *Vars) any { return v.Frequency }},
	{"monetary", cel.IntType, func(v *Vars) any { return v.Monetary }},
	{"churn_risk", cel.DoubleType, func(v *Vars) any { return v.ChurnRisk }},
	{"lifecycle", cel.StringType, func(v *Vars) any { return v.Lifecycle }},
	{"latest_nps", cel.StringType, func(v *Vars) any { return v.LatestNPS }},
	{"satisfaction", cel.DoubleType, func(v *Vars) any { return v.Satisfaction }},
	{"satisfaction_trend", cel.DoubleType, func(v *Vars) any { return v.Trend }},
	{"has_satisfaction", cel.BoolType, func(v *Vars) any { return v.HasSatisfaction }},
	{"purchases", cel.IntType, func(v *Vars) any { return v.Purchases }},
	{"purchases_90d", cel.IntType, func(v *Vars) any { return v.Purchases90d }},
	{"purchases_365d", cel.IntType, func(v *Vars) any { return v.Purchases365d }},
	{"feedback", cel.IntType, func(v *Vars) any { return v.Feedback }},
	{"detractors_30d", cel.IntType, func(v *Vars) any { return v.Detractors30d }},
	{"detractors_90d", cel.IntType, func(v *Vars) any { return v.Detractors90d }},
	{"complaints_30d", cel.IntType, func(v *Vars) any { return v.Complaints30d }},
	{"complaints_90d", cel.IntType, func(v *Vars) any { return v.Complaints90d }},
	{"days_since_last_seen", cel.DoubleType, func(v *Vars) any { return v.DaysSinceLastSeen }},
}

var getters = func() map[string]func(*Vars) any {
	m := make(map[string]func(*Vars) any, len(variables))
	for _, v := range variables {
		m[v.name] = v.get
	}
	return m
}()

// activation resolves rule variables straight from Vars, without a map per
// evaluation.
type activation struct{ v *Vars }

func (a activation) ResolveName(name string) (any, bool) {
	get, ok := getters[name]
	if !ok {
		return nil, false
	}
	return get(a.v), true
}

func (activation) Parent() interpreter.Activation { return nil }

// Tier is a tier and why.
type Tier struct{ Name, Description string }

type rule struct {
	Tier
	prog cel.Program
}

type levelRule struct {
	level string
	prog  cel.Program
}

// Rules are a compiled rule file.
type Rules struct {
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
var tierName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

const tierNameRule = "use lower-case letters, digits, - and _ (at most 64)"

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
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
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
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	rs := &Rules{def: f.Default}
	if !tierName.MatchString(f.Default.Name) {
		return fail("default tier name %q: %s", f.Default.Name, tierNameRule)
	}
	seen := map[string]bool{f.Default.Name: true}
	for i, t := range f.Tiers {
		if t.Name == "" {
			return fail("tier %d has no name", i+1)
		}
		if !tierName.MatchString(t.Name) {
			return fail("tier name %q: %s", t.Name, tierNameRule)
		}
		if seen[t.Name] {
			return fail("tier %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		prog, err := compile(env, t.When)
		if err != nil {
			return fail("tier %q: %v", t.Name, err)
		}
		rs.tiers = append(rs.tiers, rule{Tier{t.Name, t.Description}, prog})
	}
	for i, l := range f.ValueLevels {
		switch l.Level {
		case "high", "medium", "low":
		default:
			return fail("value level %d: level %q is not high, medium or low", i+1, l.Level)
		}
		prog, err := compile(env, l.When)
		if err != nil {
			return fail("value level %q: %v", l.Level, err)
		}
		rs.levels = append(rs.levels, levelRule{l.Level, prog})
	}
	return rs, nil
}

func newEnv() (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, len(variables))
	for _, v := range variables {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	return cel.NewEnv(opts...)
}

func compile(env *cel.Env, expr string) (cel.Program, error) {
	if expr == "" {
		return nil, errors.New("empty `when`")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("`when` must be true or false, not %s", ast.OutputType())
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize))
}

// Evaluate returns the customer's tier (the first rule that holds, else the
// default) and value level ("high", "medium" or "low"). A rule that fails
// at run time (it cannot after type-checking, short of a bug) does not hold.
func (rs *Rules) Evaluate(v *Vars) (Tier, string) {
	act := activation{v}
	tier := rs.def
	for _, r := range rs.tiers {
		if holds(r.prog, act) {
			tier = r.Tier
			break
		}
	}
	level := "low"
	for _, l := range rs.levels {
		if holds(l.prog, act) {
			level = l.level
			break
		}
	}
	return tier, level
}

func holds(p cel.Program, act activation) bool {
	out, _, err := p.Eval(act)
	return err == nil && out.Value() == true
}
