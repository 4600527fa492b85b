package grpcx

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/feedloop/feedloop/pkg/config"
)

// Config holds the server settings shared by every service.
type Config struct {
	// Addr is the gRPC listen address.
	Addr string
	// Keys maps the SHA-256 of each API key to its tenant.
	Keys map[[sha256.Size]byte]string
	// MaxRecvBytes caps a request's size.
	MaxRecvBytes int
	// RateLimit is requests per second allowed per API key (0: unlimited),
	// with bursts up to RateBurst.
	RateLimit float64
	RateBurst int
	// ShutdownGrace is how long in-flight calls get to finish on shutdown.
	ShutdownGrace time.Duration
	// TLS: a certificate and key turn TLS on; a client CA also requires
	// client certificates (mTLS).
	TLSCertFile, TLSKeyFile, TLSClientCAFile string
}

// DevAPIKey is the API key the local stack (make run) uses, for tenant
// "demo". Never configure it anywhere reachable by others.
const DevAPIKey = "feedloop-dev-key"

// ConfigFromEnv reads FEEDLOOP_GRPC_ADDR (default defaultAddr),
// FEEDLOOP_API_KEYS or FEEDLOOP_API_KEYS_FILE (required),
// FEEDLOOP_GRPC_MAX_RECV_BYTES (16 MiB), FEEDLOOP_RATE_LIMIT (5000/s),
// FEEDLOOP_RATE_BURST (2× the limit), FEEDLOOP_SHUTDOWN_GRACE (20s) and
// FEEDLOOP_TLS_CERT_FILE / _KEY_FILE / _CLIENT_CA_FILE (unset: plaintext).
func ConfigFromEnv(env *config.Env, defaultAddr string) Config {
	c := Config{
		Addr:            env.String("FEEDLOOP_GRPC_ADDR", defaultAddr),
		MaxRecvBytes:    env.Int("FEEDLOOP_GRPC_MAX_RECV_BYTES", 16<<20),
		RateLimit:       env.Float("FEEDLOOP_RATE_LIMIT", 5000),
		ShutdownGrace:   env.Duration("FEEDLOOP_SHUTDOWN_GRACE", 20*time.Second),
		TLSCertFile:     env.String("FEEDLOOP_TLS_CERT_FILE", ""),
		TLSKeyFile:      env.String("FEEDLOOP_TLS_KEY_FILE", ""),
		TLSClientCAFile: env.String("FEEDLOOP_TLS_CLIENT_CA_FILE", ""),
	}
	c.RateBurst = env.Int("FEEDLOOP_RATE_BURST", int(2*c.RateLimit))
	if c.MaxRecvBytes < 1024 {
		env.Fail("FEEDLOOP_GRPC_MAX_RECV_BYTES", "must be at least 1024, got %d", c.MaxRecvBytes)
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		env.Fail("FEEDLOOP_RATE_LIMIT", "must be 0 (unlimited) or positive with a positive FEEDLOOP_RATE_BURST")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		env.Fail("FEEDLOOP_TLS_CERT_FILE", "and FEEDLOOP_TLS_KEY_FILE must be set together")
	}
	spec := env.String("FEEDLOOP_API_KEYS", "")
	if file := env.String("FEEDLOOP_API_KEYS_FILE", ""); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			env.Fail("FEEDLOOP_API_KEYS_FILE", "%v", err)
		}
		spec = string(b)
	}
	keys, err := ParseKeys(spec)
	if err != nil {
		env.Fail("FEEDLOOP_API_KEYS", "%v", err)
	}
	c.Keys = keys
	return c
}

var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ParseKeys reads "key=tenant" pairs separated by commas or new lines ("#"
// starts a comment). Keys are at least 16 characters; tenant ids are lower
// case letters, digits, "_" and "-" (they become NATS subject tokens and
// Redis key parts). At least one key is required.
func ParseKeys(spec string) (map[[sha256.Size]byte]string, error) {
	keys := map[[sha256.Size]byte]string{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(spec, ",", "\n")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		key, tenant, ok := strings.Cut(line, "=")
		key, tenant = strings.TrimSpace(key), strings.TrimSpace(tenant)
		switch {
		case !ok:
			return nil, fmt.Errorf("entry %d: want key=tenant", n)
		case len(key) < 16:
			return nil, fmt.Errorf("entry %d: key shorter than 16 characters", n)
		case !tenantPattern.MatchString(tenant):
			return nil, fmt.Errorf("entry %d: tenant %q must match %s", n, tenant, tenantPattern)
		}
		keys[sha256.Sum256([]byte(key))] = tenant
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no API keys configured; set FEEDLOOP_API_KEYS=key=tenant (for local runs: %s=demo)", DevAPIKey)
	}
	return keys, nil
}
