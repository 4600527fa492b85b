package main

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedloop/feedloop/pkg/bus"
	"github.com/feedloop/feedloop/pkg/testkit"
)

func TestServesHealthAndStopsOnSIGTERM(t *testing.T) {
	ns, redis := testkit.StartJetStream(t), testkit.StartRedis(t)
	// Scoring consumes the FEEDBACK stream, which intake creates.
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := bus.EnsureStream(context.Background(), js, bus.DefaultConfig(), bus.FeedbackStream); err != nil {
		t.Fatal(err)
	}
	testkit.CheckLifecycle(t, testkit.Build(t, "."), "feedloop.scoring.v1.ScoringService", 30*time.Second,
		"FEEDLOOP_NATS_URL="+ns.ClientURL(), "FEEDLOOP_REDIS_URL="+redis.URL)
}
