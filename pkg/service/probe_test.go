package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/feedloop/feedloop/pkg/config"
	"github.com/feedloop/feedloop/pkg/grpcx"
)

// serveGRPCX serves feedloop's standard server (health SERVING) on a free
// loopback port with the given extra settings and returns its port.
func serveGRPCX(t *testing.T, env map[string]string) string {
	t.Helper()
	vars := map[string]string{"FEEDLOOP_API_KEYS": "probe-test-key-0123456789=t"}
	for k, v := range env {
		vars[k] = v
	}
	e := config.FromMap(vars)
	cfg := grpcx.ConfigFromEnv(e, "")
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	srv, err := grpcx.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(srv.Shutdown)
	return port(ln)
}

// serveStatus serves a bare health service reporting st for service "".
func serveStatus(t *testing.T, st healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	h := health.NewServer()
	h.SetServingStatus("", st)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return port(ln)
}

// serveSilence accepts connections and never answers.
func serveSilence(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}()
	return port(ln)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	p := port(ln)
	ln.Close()
	return p
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func port(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// writeCert writes a self-signed certificate for DNS name "svc.test" that
// allows server and client authentication, and its key, into dir as
// <prefix>.crt and <prefix>.key.
func writeCert(t *testing.T, dir, prefix string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "svc.test"},
		DNSNames:     []string{"svc.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, prefix+".crt"), filepath.Join(dir, prefix+".key")
	for file, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "server")
	other, otherKey := writeCert(t, dir, "other")
	tlsEnv := map[string]string{"FEEDLOOP_TLS_CERT_FILE": cert, "FEEDLOOP_TLS_KEY_FILE": key}
	mtlsEnv := map[string]string{"FEEDLOOP_TLS_CERT_FILE": cert, "FEEDLOOP_TLS_KEY_FILE": key, "FEEDLOOP_TLS_CLIENT_CA_FILE": cert}

	for _, tc := range []struct {
		name string
		// server starts what the probe checks and returns its port.
		server func(t *testing.T) string
		// env is the probe's environment; "PORT" in a value becomes the
		// server's port. FEEDLOOP_GRPC_ADDR unset leaves the probe the
		// default address "127.0.0.1:PORT".
		env     map[string]string
		wantErr string
	}{
		{"serving, every interface", func(t *testing.T) string { return serveGRPCX(t, nil) },
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT"}, ""},
		{"serving, 0.0.0.0", func(t *testing.T) string { return serveGRPCX(t, nil) },
			map[string]string{"FEEDLOOP_GRPC_ADDR": "0.0.0.0:PORT"}, ""},
		{"serving, default address", func(t *testing.T) string { return serveGRPCX(t, nil) },
			nil, ""},
		{"not serving", func(t *testing.T) string { return serveStatus(t, healthpb.HealthCheckResponse_NOT_SERVING) },
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT"}, "NOT_SERVING"},
		{"nothing listening", closedPort,
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT"}, "Unavailable"},
		{"no answer", serveSilence,
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT"}, "DeadlineExceeded"},
		{"bad address", closedPort,
			map[string]string{"FEEDLOOP_GRPC_ADDR": "no-port"}, "FEEDLOOP_GRPC_ADDR"},
		{"tls", func(t *testing.T) string { return serveGRPCX(t, tlsEnv) },
			merge(tlsEnv, "FEEDLOOP_GRPC_ADDR", ":PORT"), ""},
		{"mtls", func(t *testing.T) string { return serveGRPCX(t, mtlsEnv) },
			merge(mtlsEnv, "FEEDLOOP_GRPC_ADDR", ":PORT"), ""},
		{"tls, probe expects another certificate", func(t *testing.T) string { return serveGRPCX(t, tlsEnv) },
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT", "FEEDLOOP_TLS_CERT_FILE": other, "FEEDLOOP_TLS_KEY_FILE": otherKey},
			"certificate"},
		{"plaintext probe of a tls server", func(t *testing.T) string { return serveGRPCX(t, tlsEnv) },
			map[string]string{"FEEDLOOP_GRPC_ADDR": ":PORT"}, "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.server(t)
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "PORT", p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			err := probe(ctx, config.FromMap(env), "127.0.0.1:"+p)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("probe took %s, past its deadline", took)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("probe: %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("probe: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestMainProbe runs Main in a child process as `intake probe`: it exits 0
// for a SERVING server and 1 when nothing answers, and never starts the
// service.
func TestMainProbe(t *testing.T) {
	if os.Getenv("PROBE_TEST_CHILD") == "1" {
		os.Args = []string{"intake", "probe"}
		Main("intake", "test", "", func(context.Context, *config.Env, *slog.Logger) error {
			os.Exit(3)
			return nil
		})
		return
	}
	for _, tc := range []struct {
		name     string
		port     func(t *testing.T) string
		wantCode int
	}{
		{"serving", func(t *testing.T) string { return serveGRPCX(t, nil) }, 0},
		{"nothing listening", closedPort, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMainProbe$")
			cmd.Env = append(os.Environ(), "PROBE_TEST_CHILD=1", "FEEDLOOP_GRPC_ADDR=:"+tc.port(t))
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tc.wantCode {
				t.Fatalf("exit code %d (%v), want %d; output:\n%s", code, err, tc.wantCode, out)
			}
		})
	}
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}

func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8081":          "127.0.0.1:8081",
		"0.0.0.0:8081":   "127.0.0.1:8081",
		"[::]:8081":      "[::1]:8081",
		"10.1.2.3:8081":  "10.1.2.3:8081",
		"localhost:8081": "localhost:8081",
	} {
		if got, err := dialAddr(in); err != nil || got != want {
			t.Errorf("dialAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestDefaultGRPCAddrsMatchServices reads each service's source for its
// grpcx.ConfigFromEnv default, which the probe must know without being told.
func TestDefaultGRPCAddrsMatchServices(t *testing.T) {
	root := filepath.Join("..", "..", "services")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(root, d.Name(), "go.mod")); !d.IsDir() || err != nil {
			continue
		}
		seen++
		var defaults []string
		fset := token.NewFileSet()
		err := filepath.WalkDir(filepath.Join(root, d.Name()), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 || !isCall(call, "grpcx", "ConfigFromEnv") {
					return true
				}
				if lit, ok := call.Args[1].(*ast.BasicLit); ok {
					addr, _ := strconv.Unquote(lit.Value)
					defaults = append(defaults, addr)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(defaults) != 1 || defaults[0] != defaultGRPCAddrs[d.Name()] {
			t.Errorf("service %s: grpcx.ConfigFromEnv defaults %q, probe default %q", d.Name(), defaults, defaultGRPCAddrs[d.Name()])
		}
	}
	if seen != len(defaultGRPCAddrs) {
		t.Errorf("%d services, %d probe defaults", seen, len(defaultGRPCAddrs))
	}
}

// isCall reports whether call calls pkg.name.
func isCall(call *ast.CallExpr, pkg, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
