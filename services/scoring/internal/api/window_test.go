package api

import (
	"fmt"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end string
		rows       store.Granularity
		totalOnly  bool
		want       string
	}{
		{"hour rows, aligned", "2026-11-01 00:00", "2026-11-01 03:00", store.Hour, false, "[{hour 2026-11-01 00:00 3}]"},
		{"hour rows, start widened, end inside an hour", "2026-11-01 00:30", "2026-11-01 02:10", store.Hour, false, "[{hour 2026-11-01 00:00 3}]"},
		{"day rows", "2026-11-01 05:00", "2026-11-03 00:00", store.Day, false, "[{day 2026-11-01 00:00 2}]"},
		{"30 days of hours as a total", "2026-10-01 10:00", "2026-10-31 10:00", 0, true,
			"[{hour 2026-10-01 10:00 14} {day 2026-10-02 00:00 29} {hour 2026-10-31 00:00 10}]"},
		{"total, day aligned", "2026-10-01 00:00", "2026-10-08 00:00", 0, true, "[{day 2026-10-01 00:00 7}]"},
		{"total within one day", "2026-10-01 03:00", "2026-10-01 09:30", 0, true, "[{hour 2026-10-01 03:00 7}]"},
		{"total across midnight, no whole day", "2026-10-01 22:00", "2026-10-02 02:00", 0, true, "[{hour 2026-10-01 22:00 4}]"},
		{"empty window", "2026-10-01 02:00", "2026-10-01 02:00", 0, true, "[{hour 2026-10-01 02:00 0}]"},
	} {
		var got []string
		for _, s := range plan(at(tc.start), at(tc.end), tc.rows, tc.totalOnly) {
			name := map[store.Granularity]string{store.Hour: "hour", store.Day: "day"}[s.g]
			got = append(got, fmt.Sprintf("{%s %s %d}", name, s.first.Format("2006-01-02 15:04"), s.count))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: plan = %v, want %s", tc.name, got, tc.want)
		}
	}
}
