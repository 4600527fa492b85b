package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/services/scoring/internal/app"
	"github.com/feedloop/feedloop/services/scoring/internal/score"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"FEEDLOOP_API_KEYS": keyA + "=tenant-a"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	t.Run("defaults", func(t *testing.T) {
		env := config.FromMap(base)
		c := app.ConfigFromEnv(env)
		if err := env.Err(); err != nil {
			t.Fatal(err)
		}
		if c.Score != score.DefaultConfig() || c.Store.HalfLife != 30*24*time.Hour || c.Store.DedupTTL != 48*time.Hour ||
			c.Store.HourRetention != 35*24*time.Hour || c.Store.DayRetention != 400*24*time.Hour {
			t.Errorf("defaults = %+v", c)
		}
	})
	t.Run("weights", func(t *testing.T) {
		env := config.FromMap(with("FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", "nps=0.5, sentiment=0.25"))
		c := app.ConfigFromEnv(env)
		want := score.DefaultConfig().Experience
		want.NPS, want.Sentiment = 0.5, 0.25
		if err := env.Err(); err != nil || c.Score.Experience != want {
			t.Errorf("experience weights = %+v, %v; want %+v", c.Score.Experience, err, want)
		}
		env = config.FromMap(with("FEEDLOOP_SCORING_SERVQUAL_WEIGHTS", "1,1,1,1,1"))
		if c := app.ConfigFromEnv(env); env.Err() != nil || c.Score.Servqual != [score.NumDimensions]float64{1, 1, 1, 1, 1} {
			t.Errorf("servqual weights = %v, %v", c.Score.Servqual, env.Err())
		}
	})
	for _, tc := range []struct{ name, value string }{
		{"FEEDLOOP_SCORING_SERVQUAL_WEIGHTS", "0.5,0.5"},
		{"FEEDLOOP_SCORING_SERVQUAL_WEIGHTS", "1,1,0,1,1"},
		{"FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", "nps=0"},
		{"FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", "loyalty=1"},
		{"FEEDLOOP_SCORING_EXPERIENCE_WEIGHTS", "nps"},
		{"FEEDLOOP_SCORING_HALF_LIFE", "10m"},
		{"FEEDLOOP_SCORING_DEDUP_TTL", "1m"},
		{"FEEDLOOP_SCORING_HOUR_RETENTION", "1h"},
	} {
		env := config.FromMap(with(tc.name, tc.value))
		app.ConfigFromEnv(env)
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: error %v, want one naming the variable", tc.name, tc.value, err)
		}
	}
}
