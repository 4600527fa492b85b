// Command intake is the feedloop intake service: it accepts feedback and
// activity over gRPC and stores every valid event on the FEEDBACK stream.
// Configuration comes from FEEDLOOP_* environment variables (see README).
package main

import (
	"context"
	"log/slog"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/service"
	"github.com/feedloop/feedloop/services/intake/internal/app"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	service.Main("intake", version, ":9091", func(ctx context.Context, env *config.Env, log *slog.Logger) error {
		cfg := app.ConfigFromEnv(env)
		if err := env.Err(); err != nil {
			return err
		}
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		ln, err := a.Listen()
		if err != nil {
			return err
		}
		return a.Run(ctx, ln)
	})
}
