package celx_test

import (
	"strings"
	"testing"

	"cel.dev/cel-go/cel"

	"github.com/feedloop/feedloop/pkg/celx"
)

type customer struct {
	Risk  float64
	Tier  string
	Attrs map[string]string
}

var vars = []celx.Var[customer]{
	{Name: "risk", Type: cel.DoubleType, Get: func(c *customer) any { return c.Risk }},
	{Name: "tier", Type: cel.StringType, Get: func(c *customer) any { return c.Tier }},
	{Name: "attrs", Type: cel.MapType(cel.StringType, cel.StringType), Get: func(c *customer) any { return c.Attrs }},
}

func TestConditions(t *testing.T) {
	env, err := celx.NewEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	cond, err := env.Compile(`risk >= 0.5 && tier in ["at-risk", "lost"] && attrs["region"] == "north"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    customer
		want bool
	}{
		{customer{0.6, "lost", map[string]string{"region": "north"}}, true},
		{customer{0.4, "lost", map[string]string{"region": "north"}}, false},
		{customer{0.6, "loyal", map[string]string{"region": "north"}}, false},
		{customer{0.6, "lost", map[string]string{}}, false}, // a missing key fails at run time: does not hold
	} {
		if got := cond.Holds(env.Input(&tc.c)); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
	for expr, want := range map[string]string{
		"":             "empty `when`",
		"risk":         "`when` must be true or false, not double",
		"tire == \"\"": "undeclared reference to 'tire'",
		"risk >":       "ERROR",
	} {
		if _, err := env.Compile(expr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", expr, err, want)
		}
	}
}
