package main

import (
	"testing"
	"time"

	"github.com/feedloop/feedloop/pkg/testkit"
)

// The streams segmentation consumes are not created here: it serves while
// it waits for their owners, and stops cleanly meanwhile.
func TestServesHealthAndStopsOnSIGTERM(t *testing.T) {
	ns, redis := testkit.StartJetStream(t), testkit.StartRedis(t)
	testkit.CheckLifecycle(t, testkit.Build(t, "."), "feedloop.segmentation.v1.SegmentationService", 30*time.Second,
		"FEEDLOOP_NATS_URL="+ns.ClientURL(), "FEEDLOOP_REDIS_URL="+redis.URL)
}
