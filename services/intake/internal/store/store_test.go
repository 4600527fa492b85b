package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestSeen(t *testing.T) {
	ctx := context.Background()
	r := testkit.StartRedis(t)
	s := New(r.Client, time.Hour)
	if err := s.Add(ctx, "a", []string{"e1", "e2"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Contains(ctx, "a", []string{"e1", "e3", "e2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true}; !slices.Equal(got, want) {
		t.Errorf("tenant a: %v, want %v", got, want)
	}
	got, _ = s.Contains(ctx, "b", []string{"e1"})
	if got[0] {
		t.Error("tenant b sees tenant a's id")
	}
	if ttl := r.Client.TTL(ctx, key("a", "e1")).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl = %v, want about 1h", ttl)
	}
	r.Stop()
	if _, err := s.Contains(ctx, "a", []string{"e1"}); err == nil {
		t.Error("Contains succeeded with Redis down")
	}
}
