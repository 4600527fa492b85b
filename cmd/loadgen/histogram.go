package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in microseconds in log-linear buckets: 64 per
// power of two, so a percentile is read to within 1/64 (1.6 %) of its value
// in fixed memory, however long the run. The maximum is kept exactly.
type histogram struct {
	counts [(64 - subBits + 1) << subBits]int64
	n      int64
	sum    time.Duration
	max    time.Duration
}

const subBits = 6

func bucketOf(us uint64) int {
	if us < 1<<subBits {
		return int(us)
	}
	shift := bits.Len64(us) - subBits - 1
	return (shift+1)<<subBits + int(us>>shift) - 1<<subBits
}

// bucketMid is the middle of bucket i's range, in microseconds.
func bucketMid(i int) float64 {
	if i < 1<<subBits {
		return float64(i)
	}
	shift := i>>subBits - 1
	low := uint64(i&(1<<subBits-1)+1<<subBits) << shift
	return float64(low) + float64(uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d.Microseconds()))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// quantile returns the latency below which a share q of the samples lie.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n-1)) + 1
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(time.Duration(bucketMid(i)*float64(time.Microsecond)), h.max)
		}
	}
	return h.max
}

// summary is a histogram as reported, in milliseconds.
type summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func (h *histogram) summary() summary {
	if h.n == 0 {
		return summary{}
	}
	return summary{
		Count: h.n,
		Mean:  ms(h.sum / time.Duration(h.n)),
		P50:   ms(h.quantile(.50)),
		P90:   ms(h.quantile(.90)),
		P99:   ms(h.quantile(.99)),
		Max:   ms(h.max),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
