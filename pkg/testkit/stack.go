package testkit

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedloop/feedloop/pkg/config"
)

// Stack is what a service's integration test runs it on: an embedded
// JetStream, a redis-server, a client of that JetStream, and the settings
// that point a service at them.
type Stack struct {
	NATS  *JetStream
	Redis *Redis
	JS    jetstream.JetStream
	// Env holds the settings: gRPC on a free loopback port, the API keys
	// given, no rate limit, retries after 50 to 200 ms, and the extra
	// name/value pairs given.
	Env *config.Env
}

// StartStack starts JetStream and Redis for the test; apiKeys is the
// FEEDLOOP_API_KEYS value, extra more variables as name, value, ...
func StartStack(tb testing.TB, apiKeys string, extra ...string) *Stack {
	tb.Helper()
	s := &Stack{NATS: StartJetStream(tb), Redis: StartRedis(tb)}
	vars := map[string]string{
		"FEEDLOOP_GRPC_ADDR":           "127.0.0.1:0",
		"FEEDLOOP_NATS_URL":            s.NATS.ClientURL(),
		"FEEDLOOP_REDIS_URL":           s.Redis.URL,
		"FEEDLOOP_API_KEYS":            apiKeys,
		"FEEDLOOP_RATE_LIMIT":          "0",
		"FEEDLOOP_CONSUMER_RETRY_BASE": "50ms",
		"FEEDLOOP_CONSUMER_RETRY_MAX":  "200ms",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	s.Env = config.FromMap(vars)
	nc, err := nats.Connect(s.NATS.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	if s.JS, err = jetstream.New(nc); err != nil {
		tb.Fatal(err)
	}
	return s
}
