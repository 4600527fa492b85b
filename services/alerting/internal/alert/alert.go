// Package alert holds the alerting domain's shared vocabulary: severities,
// in the order escalation raises them.
package alert

import "fmt"

// Severity grades a recovery case; higher is more urgent.
type Severity int

// Severities, in the order of the API's enum.
const (
	NoSeverity Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < NoSeverity || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads "low", "medium", "high" or "critical".
func ParseSeverity(name string) (Severity, error) {
	for s := Low; s <= Critical; s++ {
		if severityNames[s] == name {
			return s, nil
		}
	}
	return NoSeverity, fmt.Errorf("severity %q is not low, medium, high or critical", name)
}

// Raise is s one step more urgent, at most Critical.
func (s Severity) Raise() Severity { return min(s+1, Critical) }
