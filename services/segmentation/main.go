// Command segmentation is the feedloop segmentation service: it keeps every
// customer's profile (value, RFM, satisfaction, churn risk, lifecycle) and
// tier current from scored feedback, activity and the passing of time,
// publishes CustomerEvaluated and TierChanged, and answers GetCustomer,
// ListCustomers, GetTierReport and EraseCustomer. Configuration comes from
// FEEDLOOP_* environment variables (see README).
package main

import (
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/segmentation/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	service.Main("segmentation", version, ":9093", service.Assemble(app.ConfigFromEnv, app.New))
}
