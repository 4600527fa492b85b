// Command alerting is the feedloop alerting service: it runs the recovery
// rules on every evaluated event and tier change, opens and updates
// service-recovery cases, and publishes every change of a case to
// recovery.<change>.<tenant>. Receivers, the scheduler and the API come with
// the rest of issue #5. Configuration: FEEDLOOP_* environment variables
// (README).
package main

import (
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/alerting/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { service.Main("alerting", version, ":9094", service.Assemble(app.ConfigFromEnv, app.New)) }
