// Package client dials feedloop's gRPC services the way every feedloop tool
// does: the API key travels as per-RPC credentials ("authorization: Bearer
// <key>"), over plaintext locally or TLS (optionally mTLS) elsewhere.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// The local default addresses of the four services (see make run).
const (
	DefaultIntakeAddr       = "127.0.0.1:8081"
	DefaultScoringAddr      = "127.0.0.1:8082"
	DefaultSegmentationAddr = "127.0.0.1:8083"
	DefaultAlertingAddr     = "127.0.0.1:8084"
	// DevAPIKey is the key the local stack accepts (tenant "demo").
	DevAPIKey = "feedloop-dev-key"
)

// Config says how to reach one service.
type Config struct {
	// Addr is host:port.
	Addr string
	// APIKey is sent with every call; empty sends none.
	APIKey string
	// TLS turns on transport security, verified against the system roots
	// or CAFile.
	TLS bool
	// CAFile is a PEM bundle of the CAs that signed the server's certificate.
	CAFile string
	// CertFile and KeyFile are a client certificate for mTLS.
	CertFile, KeyFile string
	// ServerName overrides the name the server's certificate is checked for.
	ServerName string
	// UserAgent prefixes gRPC's user agent, e.g. "feedctl/1.2.0".
	UserAgent string
}

// Dial returns a client connection to cfg.Addr. Like grpc.NewClient it does
// not connect until the first call, so a service that is down shows up as
// UNAVAILABLE on that call.
func Dial(cfg Config, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if cfg.Addr == "" {
		return nil, errors.New("no address")
	}
	transport := insecure.NewCredentials()
	if cfg.TLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(tc)
	} else if cfg.CAFile != "" || cfg.CertFile != "" {
		return nil, errors.New("a CA or client certificate needs TLS turned on")
	}
	all := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if cfg.APIKey != "" {
		all = append(all, grpc.WithPerRPCCredentials(apiKey{key: cfg.APIKey, secure: cfg.TLS}))
	}
	if cfg.UserAgent != "" {
		all = append(all, grpc.WithUserAgent(cfg.UserAgent))
	}
	cc, err := grpc.NewClient(cfg.Addr, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Addr, err)
	}
	return cc, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificates", cfg.CAFile)
		}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("a client certificate needs both the certificate and the key file")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// apiKey sends the key as "authorization: Bearer <key>" on every call.
type apiKey struct {
	key    string
	secure bool
}

func (k apiKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + k.key}, nil
}

// RequireTransportSecurity is true over TLS so gRPC never lets the key
// leave in clear text once the user asked for TLS; plaintext is for local
// stacks only.
func (k apiKey) RequireTransportSecurity() bool { return k.secure }
