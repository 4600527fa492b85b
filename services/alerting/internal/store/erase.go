package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/feedloop/feedloop/pkg/redisx"
)

// eraseRounds bounds how often Erase reads again cases another writer
// changed meanwhile.
const eraseRounds = 5

// Erase removes customer's personal data from tenant's cases
// (cases.Case.Erase) and forgets the customer: their latest-case pointer,
// their guards, their list of cases, their wait for an outcome. The cases
// stay, in every other index, so reports still count them. Repeating it
// is harmless.
func (s *Store) Erase(ctx context.Context, tenant, customer string) error {
	for range eraseRounds {
		ids, err := s.rdb.ZRange(ctx, customerKey(tenant, customer), 0, -1).Result()
		if err != nil {
			return fmt.Errorf("erase %s: %w", customer, err)
		}
		loaded, err := s.Cases(ctx, tenant, ids)
		if err != nil {
			return fmt.Errorf("erase %s: %w", customer, err)
		}
		var b redisx.Writes
		for _, l := range loaded {
			if l.Case == nil || l.Case.CustomerID == "" {
				continue
			}
			c := l.Case.Clone()
			c.Erase()
			blob, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("erase %s: case %s: %w", customer, c.ID, err)
			}
			version, err := strconv.ParseInt(l.version, 10, 64)
			if err != nil {
				return fmt.Errorf("%w %s: version %q", ErrCorrupt, c.ID, l.version)
			}
			ck := caseKey(tenant, c.ID)
			b.Section(redisx.Cond{Key: ck, Field: "v", Want: l.version})
			b.HSet(ck, "r", blob)
			b.HSet(ck, "v", version+1)
		}
		// The customer's keys go once every case is erased.
		b.Section()
		b.Del(latestKey(tenant, customer))
		b.Del(guardKey(tenant, customer))
		b.ZRem(awaitingKey(tenant), customer)
		done, err := b.Run(ctx, s.rdb, nil)
		if err != nil {
			return fmt.Errorf("erase %s: %w", customer, err)
		}
		if !slices.Contains(done, false) {
			return s.rdb.Del(ctx, customerKey(tenant, customer)).Err()
		}
	}
	return fmt.Errorf("erase %s: %w", customer, redisx.ErrContended)
}
