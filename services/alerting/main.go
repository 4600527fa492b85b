// Command alerting is the feedloop alerting service. This build serves gRPC health
// and reflection and shuts down cleanly on SIGTERM; its pipeline and API come
// with issue #5. Configuration: FEEDLOOP_* environment variables (README).
package main

import "github.com/feedloop/feedloop/pkg/service"

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { service.HealthOnly("alerting", version, ":9094", ":8084") }
