package main

import (
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestServesHealthAndStopsOnSIGTERM(t *testing.T) {
	nats, redis := testkit.StartJetStream(t), testkit.StartRedis(t)
	testkit.CheckLifecycle(t, testkit.Build(t, "."), "feedloop.intake.v1.IntakeService", 30*time.Second,
		"FEEDLOOP_NATS_URL="+nats.ClientURL(), "FEEDLOOP_REDIS_URL="+redis.URL)
}
