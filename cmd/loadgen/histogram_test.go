package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueWithinPrecision(t *testing.T) {
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 123_456, 1 << 40, math.MaxInt64} {
		i := bucketOf(us)
		if mid := bucketMid(i); math.Abs(mid-float64(us)) > float64(us)/64+1 {
			t.Errorf("%d µs: bucket %d has middle %v, more than 1/64 away", us, i, mid)
		}
		if i >= len(histogram{}.counts) {
			t.Errorf("%d µs: bucket %d out of range", us, i)
		}
	}
}

func TestQuantilesMatchExactOnes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		draw func() time.Duration
	}{
		{"constant", func() time.Duration { return 3 * time.Millisecond }},
		{"uniform 0-10ms", func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) }},
		{"long tail", func() time.Duration { return time.Duration(float64(time.Millisecond) * math.Exp(2*rng.NormFloat64())) }},
		{"sub-microsecond", func() time.Duration { return time.Duration(rng.Int64N(1000)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			exact := make([]time.Duration, 10_000)
			for i := range exact {
				exact[i] = tt.draw()
				h.record(exact[i])
			}
			slices.Sort(exact)
			for _, q := range []float64{.5, .9, .99, 1} {
				want := exact[int(q*float64(len(exact)-1))]
				got := h.quantile(q)
				if tol := want/50 + time.Microsecond; (got - want).Abs() > tol {
					t.Errorf("p%v = %v, want %v ± %v", q*100, got, want, tol)
				}
			}
			if s := h.summary(); s.Count != int64(len(exact)) || s.Max != ms(exact[len(exact)-1]) {
				t.Errorf("summary = %+v, want count %d and max %v", s, len(exact), exact[len(exact)-1])
			}
		})
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h histogram
	if q, s := h.quantile(.99), h.summary(); q != 0 || s != (summary{}) {
		t.Errorf("empty: p99 %v, summary %+v", q, s)
	}
}
