package redisx_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/feedloop/feedloop/pkg/redisx"
)

func TestOptimistic(t *testing.T) {
	pending := map[string]map[string][]string{
		"a": {"ann": {"a1", "a2"}, "bob": {"b1"}, "cat": {"c1"}},
		"b": {"dan": {"d1"}},
	}
	broken := errors.New("redis down")
	tries := map[string]int{}
	failed := map[string]error{}
	redisx.Optimistic(pending, 3, func(tenant string, groups map[string][]string) error {
		if tenant == "b" {
			return broken
		}
		for _, c := range slices.Sorted(maps.Keys(groups)) {
			tries[c]++
			switch {
			case c == "ann": // committed at once
				delete(groups, c)
			case c == "bob" && tries[c] == 2: // changed by another writer once
				delete(groups, c)
			} // cat: changed every time
		}
		return nil
	}, func(item string, err error) { failed[item] = err })
	want := map[string]error{"d1": broken, "c1": redisx.ErrContended}
	if !maps.Equal(failed, want) || tries["ann"] != 1 || tries["bob"] != 2 || tries["cat"] != 3 {
		t.Errorf("failed %v, tries %v", failed, tries)
	}
}
