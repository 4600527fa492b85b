// Command intake is the feedloop intake service: it accepts feedback and
// activity over gRPC and stores every valid event on the FEEDBACK stream.
// Configuration comes from FEEDLOOP_* environment variables (see README).
package main

import (
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/intake/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() { service.Main("intake", version, ":9091", service.Assemble(app.ConfigFromEnv, app.New)) }
