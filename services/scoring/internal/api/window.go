package api

import (
	"time"

	"github.com/feedloop/feedloop/services/scoring/internal/store"
)

// span is a run of buckets of one size: starts from First, every Size, Count of
// them.
type span struct {
	g     store.Granularity
	first time.Time
	count int
}

func (s span) starts() []time.Time {
	out := make([]time.Time, s.count)
	for i := range out {
		out[i] = s.first.Add(time.Duration(i) * s.g.Size())
	}
	return out
}

// plan lists the buckets that cover the window [start, end): every bucket
// that overlaps it counts whole, so an event belongs to the window when its
// bucket starts before end and ends after start. For rows by hour or day the
// buckets are of that size; for a total only, whole UTC days inside the
// window are read as day buckets and the edges as hours (the same events as
// hour buckets would give), so a 30-day total reads about 30 + 2 × 23
// buckets, not 720.
func plan(start, end time.Time, rows store.Granularity, totalOnly bool) []span {
	if !totalOnly {
		first := rows.Start(start)
		return []span{{rows, first, count(first, end, rows)}}
	}
	first := store.Hour.Start(start)
	dayFirst := store.Day.Start(first)
	if dayFirst.Before(first) {
		dayFirst = dayFirst.Add(24 * time.Hour)
	}
	dayEnd := store.Day.Start(end) // exclusive: the day holding end is partial or empty
	if !dayFirst.Before(dayEnd) {
		return []span{{store.Hour, first, count(first, end, store.Hour)}}
	}
	var out []span
	if n := count(first, dayFirst, store.Hour); n > 0 {
		out = append(out, span{store.Hour, first, n})
	}
	out = append(out, span{store.Day, dayFirst, count(dayFirst, dayEnd, store.Day)})
	if n := count(dayEnd, end, store.Hour); n > 0 {
		out = append(out, span{store.Hour, dayEnd, n})
	}
	return out
}

// count is the number of buckets of size g whose start lies in [first, end),
// for first aligned to g.
func count(first, end time.Time, g store.Granularity) int {
	if !first.Before(end) {
		return 0
	}
	return int((end.Sub(first) + g.Size() - 1) / g.Size())
}
