// Command segmentation is the feedloop segmentation service. This build serves gRPC health
// and reflection and shuts down cleanly on SIGTERM; its pipeline and API come
// with issue #4. Configuration: FEEDLOOP_* environment variables (README).
package main

import (
	"context"
	"log/slog"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
	"github.com/feedloop/feedloop/pkg/service"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	service.Main("segmentation", version, ":9093", func(ctx context.Context, env *config.Env, log *slog.Logger) error {
		cfg := grpcx.ConfigFromEnv(env, ":8083")
		if err := env.Err(); err != nil {
			return err
		}
		srv, err := grpcx.New(cfg, log)
		if err != nil {
			return err
		}
		ln, err := srv.Listen()
		if err != nil {
			return err
		}
		return srv.Run(ctx, ln)
	})
}
