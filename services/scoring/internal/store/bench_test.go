package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

// BenchmarkApply applies batches of 100 events of 1000 customers, spread
// over the last 17 hours; b.N counts events.
func BenchmarkApply(b *testing.B) {
	s := newStore(b, cfg)
	ctx := context.Background()
	batch := make([]Update, 0, 100)
	i := 0
	for b.Loop() {
		u := update("t", fmt.Sprint("e", i), time.Duration(i%1000)*time.Minute, float64(i%100), score.NPSClass(i%4))
		u.Customer = fmt.Sprint("c", i%1000)
		batch = append(batch, u)
		i++
		if len(batch) == cap(batch) {
			if _, errs := s.Apply(ctx, batch); errs[0] != nil {
				b.Fatal(errs[0])
			}
			batch = batch[:0]
		}
	}
}
