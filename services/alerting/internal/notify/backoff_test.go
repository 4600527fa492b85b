package notify

import (
	"math"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const s = time.Second
	fixed := func(v float64) func() float64 { return func() float64 { return v } }
	tests := []struct {
		name      string
		attempt   int
		base, max time.Duration
		rnd       float64
		want      time.Duration
	}{
		{"first retry, no jitter draw", 1, s, time.Minute, 0, s / 2},
		{"first retry, top of range", 1, s, time.Minute, 0.999999, s - time.Microsecond},
		{"first retry, middle", 1, s, time.Minute, 0.5, 750 * time.Millisecond},
		{"second doubles", 2, s, time.Minute, 0, s},
		{"third", 3, s, time.Minute, 0, 2 * s},
		{"sixth", 6, s, time.Minute, 0, 16 * s},
		{"capped at max", 7, s, time.Minute, 0, 30 * s},
		{"capped, top", 7, s, time.Minute, 0.5, 45 * s},
		{"far beyond the cap", 40, s, time.Minute, 0, 30 * s},
		{"shift would overflow", 1000, s, time.Minute, 0, 30 * s},
		{"attempt 0 counts as 1", 0, s, time.Minute, 0, s / 2},
		{"negative attempt", -5, s, time.Minute, 0, s / 2},
		{"max below base", 1, time.Minute, s, 0, s / 2},
		{"zero base", 3, 0, time.Minute, 0.5, 0},
		{"zero max", 3, s, 0, 0.5, 0},
		{"rnd out of range is 0", 1, s, time.Minute, 1.5, s / 2},
		{"rnd negative is 0", 1, s, time.Minute, -1, s / 2},
		{"rnd NaN is 0", 1, s, time.Minute, math.NaN(), s / 2},
		{"huge max", 63, time.Nanosecond, time.Duration(math.MaxInt64), 0, time.Duration(1<<62) / 2},
	}
	for _, tt := range tests {
		got := Backoff(tt.attempt, tt.base, tt.max, fixed(tt.rnd))
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: Backoff(%d, %s, %s, %v) = %s, want %s", tt.name, tt.attempt, tt.base, tt.max, tt.rnd, got, tt.want)
		}
	}
}

// TestBackoffRange: with the real random source every delay is in
// [ceiling/2, ceiling) and the delays are not all equal.
func TestBackoffRange(t *testing.T) {
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= 10; attempt++ {
		ceil := min(100*time.Millisecond<<(attempt-1), 10*time.Second)
		for range 100 {
			d := Backoff(attempt, 100*time.Millisecond, 10*time.Second, nil)
			if d < ceil/2 || d >= ceil {
				t.Fatalf("attempt %d: %s outside [%s, %s)", attempt, d, ceil/2, ceil)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays in 1000: no jitter?", len(seen))
	}
}
