package store

import (
	"testing"

	"github.com/feedloop/feedloop/services/alerting/internal/alert"
	"github.com/feedloop/feedloop/services/alerting/internal/cases"
)

func TestFilterMatch(t *testing.T) {
	c := &cases.Case{CustomerID: "ann", State: cases.Acknowledged, Severity: alert.High, Tier: "loyal"}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"everything", Filter{}, true},
		{"its state", Filter{States: []cases.State{cases.Acknowledged}}, true},
		{"any of the states", Filter{States: []cases.State{cases.Open, cases.Acknowledged}}, true},
		{"other states", Filter{States: []cases.State{cases.Open, cases.Resolved}}, false},
		{"its severity", Filter{MinSeverity: alert.High}, true},
		{"below it", Filter{MinSeverity: alert.Medium}, true},
		{"above it", Filter{MinSeverity: alert.Critical}, false},
		{"its customer", Filter{CustomerID: "ann"}, true},
		{"another customer", Filter{CustomerID: "bob"}, false},
		{"its tier", Filter{Tier: "loyal"}, true},
		{"another tier", Filter{Tier: "champion"}, false},
		{"all of them", Filter{States: []cases.State{cases.Acknowledged}, MinSeverity: alert.Low, CustomerID: "ann", Tier: "loyal"}, true},
		{"all but one", Filter{States: []cases.State{cases.Acknowledged}, MinSeverity: alert.Low, CustomerID: "ann", Tier: "lost"}, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(c); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFilterIndex(t *testing.T) {
	open, resolved := []cases.State{cases.Open}, []cases.State{cases.Open, cases.Resolved}
	tests := []struct {
		name  string
		f     Filter
		key   string
		exact bool
	}{
		{"no filter", Filter{}, "fl:{t}:alert:cases", true},
		{"one state", Filter{States: open}, "fl:{t}:alert:state:open", true},
		{"two states", Filter{States: resolved}, "fl:{t}:alert:cases", false},
		{"a customer", Filter{CustomerID: "ann"}, "fl:{t}:alert:customer:ann", true},
		{"a customer before a state", Filter{CustomerID: "ann", States: open}, "fl:{t}:alert:customer:ann", false},
		{"severity", Filter{MinSeverity: alert.High}, "fl:{t}:alert:cases", false},
		{"one state and a tier", Filter{States: open, Tier: "loyal"}, "fl:{t}:alert:state:open", false},
	}
	for _, tt := range tests {
		key, exact := tt.f.index("t")
		if key != tt.key || exact != tt.exact {
			t.Errorf("%s: index = %s, %v; want %s, %v", tt.name, key, exact, tt.key, tt.exact)
		}
	}
}
