package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// serve starts a gRPC health server that records the authorization
// metadata of each call.
func serve(t *testing.T, opts ...grpc.ServerOption) (addr string, seen chan string) {
	t.Helper()
	seen = make(chan string, 10)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- strings.Join(md.Get("authorization"), ",")
		return h(ctx, req)
	}
	srv := grpc.NewServer(append(opts, grpc.UnaryInterceptor(record))...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), seen
}

func check(t *testing.T, cfg Config) error {
	t.Helper()
	cc, err := Dial(cfg)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestAPIKeyOverPlaintext(t *testing.T) {
	addr, seen := serve(t)
	if err := check(t, Config{Addr: addr, APIKey: DevAPIKey}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "Bearer "+DevAPIKey {
		t.Errorf("authorization = %q, want the bearer key", got)
	}
	if err := check(t, Config{Addr: addr}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "" {
		t.Errorf("authorization = %q without a key, want none", got)
	}
}

func TestAPIKeyOverTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := certificates(t, dir)
	addr, seen := serve(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}})))

	if err := check(t, Config{Addr: addr, APIKey: "k-123456789012345", TLS: true, CAFile: caFile}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "Bearer k-123456789012345" {
		t.Errorf("authorization = %q", got)
	}
	// Without the CA the server's certificate is not trusted.
	if err := check(t, Config{Addr: addr, APIKey: "k", TLS: true}); err == nil {
		t.Error("a certificate from an unknown CA was accepted")
	}
}

func TestDialConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{}, "no address"},
		{"CA without TLS", Config{Addr: "x:1", CAFile: notPEM}, "needs TLS"},
		{"missing CA file", Config{Addr: "x:1", TLS: true, CAFile: filepath.Join(dir, "none.pem")}, "CA file"},
		{"CA file without certificates", Config{Addr: "x:1", TLS: true, CAFile: notPEM}, "no PEM certificates"},
		{"certificate without key", Config{Addr: "x:1", TLS: true, CertFile: notPEM}, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// certificates writes a CA's certificate to dir and returns its path and a
// server certificate for 127.0.0.1 that it signed.
func certificates(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
