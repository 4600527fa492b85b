package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/feedloop/feedloop/pkg/config"
)

// probeTimeout bounds `<service> probe`: a health check that hangs is a
// failed one, and a healthy service answers in milliseconds.
const probeTimeout = 3 * time.Second

// defaultGRPCAddrs are the services' default FEEDLOOP_GRPC_ADDR values, so a
// probe finds a service that runs on its default. Main is not told them;
// a test reads them from each service's grpcx.ConfigFromEnv call.
var defaultGRPCAddrs = map[string]string{
	"intake":       ":8081",
	"scoring":      ":8082",
	"segmentation": ":8083",
	"alerting":     ":8084",
}

// probe asks the gRPC health service of the process serving on
// FEEDLOOP_GRPC_ADDR (default defaultAddr) about the whole server (service
// "") and returns nil only for SERVING. It is the health check of images
// without a shell: `<service> probe` exits 0 or 1.
func probe(ctx context.Context, env *config.Env, defaultAddr string) error {
	addr := env.String("FEEDLOOP_GRPC_ADDR", defaultAddr)
	if addr == "" {
		return errors.New("FEEDLOOP_GRPC_ADDR is not set")
	}
	target, err := dialAddr(addr)
	if err != nil {
		return err
	}
	creds, err := probeCredentials(env)
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("health check of %s: %w", target, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%s is %s", target, resp.GetStatus())
	}
	return nil
}

// dialAddr turns a listen address into one to dial: a server listening on
// every interface (":8081", "0.0.0.0:8081", "[::]:8081") is reached on
// loopback.
func dialAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("FEEDLOOP_GRPC_ADDR %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip.Equal(net.IPv4zero) {
		host = "127.0.0.1"
	} else if ip.Equal(net.IPv6unspecified) {
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// probeCredentials is plaintext unless the service serves TLS
// (FEEDLOOP_TLS_CERT_FILE). Then the probe trusts exactly the certificate
// the service serves and checks it for the first name in it, so it works
// with self-signed and private-CA certificates alike without turning
// verification off. It also offers that key pair as its client certificate,
// which mTLS (FEEDLOOP_TLS_CLIENT_CA_FILE) accepts when the certificate is
// signed by the client CA and allows client authentication.
func probeCredentials(env *config.Env) (credentials.TransportCredentials, error) {
	certFile := env.String("FEEDLOOP_TLS_CERT_FILE", "")
	if certFile == "" {
		return insecure.NewCredentials(), nil
	}
	pair, err := tls.LoadX509KeyPair(certFile, env.String("FEEDLOOP_TLS_KEY_FILE", ""))
	if err != nil {
		return nil, fmt.Errorf("tls key pair: %w", err)
	}
	leaf := pair.Leaf
	var name string
	switch {
	case len(leaf.DNSNames) > 0:
		name = leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		name = leaf.IPAddresses[0].String()
	default:
		return nil, fmt.Errorf("tls certificate %s names no DNS name or IP address to verify", certFile)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return credentials.NewTLS(&tls.Config{
		RootCAs:      roots,
		ServerName:   name,
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}), nil
}
