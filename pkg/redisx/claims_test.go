package redisx_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/redisx"
	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestClaimsShareTenantsBetweenReplicas(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	claims := func(owner string) redisx.Claims {
		return redisx.Claims{
			RDB: r.Client, Interval: time.Minute, Owner: owner, Log: slog.New(slog.DiscardHandler),
			Tenants: func(context.Context) ([]string, error) { return []string{"t1", "t2"}, nil },
			Key:     func(tenant string) string { return "claim:" + tenant },
		}
	}
	a, b := claims("a"), claims("b")
	tick := func(c redisx.Claims, fail string) ([]string, error) {
		var worked []string
		n, err := c.Tick(ctx, func(_ context.Context, tenant string) (int, error) {
			worked = append(worked, tenant)
			if tenant == fail {
				return 0, errors.New("boom")
			}
			return 1, nil
		})
		want := len(worked)
		if slices.Contains(worked, fail) {
			want-- // a failing tenant counts nothing
		}
		if n != want {
			t.Errorf("tick counted %d items, want %d", n, want)
		}
		return worked, err
	}
	if got, err := tick(a, ""); err != nil || !slices.Equal(got, []string{"t1", "t2"}) {
		t.Fatalf("first replica worked %v, %v; want both tenants", got, err)
	}
	if got, err := tick(b, ""); err != nil || len(got) != 0 {
		t.Fatalf("second replica worked %v, %v; want none while claimed", got, err)
	}
	if got, err := tick(a, "t2"); err == nil || !slices.Equal(got, []string{"t1", "t2"}) {
		t.Fatalf("the holder renews its claims: worked %v, err %v; want both and t2's error", got, err)
	}
	if ttl := r.Client.PTTL(ctx, "claim:t1").Val(); ttl <= 0 || ttl > 54*time.Second {
		t.Errorf("claim lasts %s, want at most 9/10 of the interval", ttl)
	}
	r.Client.Del(ctx, "claim:t1") // lapsed
	if got, _ := tick(b, ""); !slices.Equal(got, []string{"t1"}) {
		t.Errorf("after t1's claim lapsed, the second replica worked %v; want t1", got)
	}
}
