package service

import (
	"testing"

	"github.com/feedloop/feedloop/pkg/config"
)

func TestProcs(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want int
		bad  bool
	}{
		{name: "unset: one thread", vars: nil, want: 1},
		{name: "empty: one thread", vars: map[string]string{"GOMAXPROCS": ""}, want: 1},
		{name: "set", vars: map[string]string{"GOMAXPROCS": "3"}, want: 3},
		{name: "zero", vars: map[string]string{"GOMAXPROCS": "0"}, bad: true},
		{name: "not a number", vars: map[string]string{"GOMAXPROCS": "all"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := config.FromMap(tc.vars)
			got := procs(env)
			if err := env.Err(); (err != nil) != tc.bad {
				t.Fatalf("procs(%v): error %v, want an error: %v", tc.vars, err, tc.bad)
			}
			if !tc.bad && got != tc.want {
				t.Errorf("procs(%v) = %d, want %d", tc.vars, got, tc.want)
			}
		})
	}
}
