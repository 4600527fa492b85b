// Command feedctl is feedloop's command-line tool: submit feedback and
// purchases, import files of feedback, look at customers, tiers and
// reports, and work service-recovery cases from the terminal.
//
// Every command takes --help. Addresses and the API key come from flags or
// the environment (FEEDLOOP_API_KEY, FEEDLOOP_<SERVICE>_ADDR, FEEDLOOP_HOST);
// see docs/feedctl.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped in at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
