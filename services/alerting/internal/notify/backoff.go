package notify

import (
	"math/rand/v2"
	"time"
)

// Backoff is how long to wait before retry number attempt (1 for the retry
// after the first failed attempt): exponential with "equal jitter". The
// ceiling is base·2^(attempt-1), capped at max, and the delay is drawn
// uniformly from [ceiling/2, ceiling): half fixed, half random.
//
// Equal rather than full jitter (uniform in [0, ceiling)): the random half
// still spreads the retries of many notifications that failed together
// (a receiver's outage), while the fixed half guarantees a struggling
// receiver real breathing room — full jitter may retry a 503 at once.
// When the receiver sent Retry-After (Error.RetryAfter), wait the longer of
// the two.
//
// rnd returns a number in [0, 1) (rand.Float64 when nil; tests pass their
// own). attempt below 1 counts as 1; base ≤ 0 gives 0; max below base
// caps at max.
func Backoff(attempt int, base, max time.Duration, rnd func() float64) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	ceil := max
	if attempt < 1 {
		attempt = 1
	}
	// base<<(attempt-1) while it stays below max and does not overflow.
	if shift := attempt - 1; shift < 63 && base <= max>>shift {
		ceil = base << shift
	}
	ceil = min(ceil, max)
	r := rnd()
	if r < 0 || r >= 1 || r != r {
		r = 0
	}
	half := ceil / 2
	return half + time.Duration(r*float64(ceil-half))
}
