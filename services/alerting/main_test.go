package main

import (
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The CUSTOMERS stream alerting consumes is not created here: it serves
// while it waits for segmentation to create it, and stops cleanly meanwhile.
func TestServesHealthAndStopsOnSIGTERM(t *testing.T) {
	ns, redis := testkit.StartJetStream(t), testkit.StartRedis(t)
	testkit.CheckLifecycle(t, testkit.Build(t, "."), "feedloop.alerting.v1.AlertingService", 30*time.Second,
		"FEEDLOOP_NATS_URL="+ns.ClientURL(), "FEEDLOOP_REDIS_URL="+redis.URL)
}
