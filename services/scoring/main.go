// Command scoring is the feedloop scoring service: it scores every
// feedback.received event, keeps each customer's rolling scores and the
// tenant's report buckets in Redis, publishes FeedbackScored, and answers
// GetCustomerScores and GetExperienceReport. Configuration comes from
// FEEDLOOP_* environment variables (see README).
package main

import (
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/scoring/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { service.Main("scoring", version, ":9092", service.Assemble(app.ConfigFromEnv, app.New)) }
