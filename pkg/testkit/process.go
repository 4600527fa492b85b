package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// Build compiles the main package in dir (relative to the test's package
// directory) into a temporary binary and returns its path.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	bin, err := BuildInto(dir, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// BuildInto compiles the main package in dir into the directory out and
// returns the binary's path: for a TestMain that builds once for many
// tests.
func BuildInto(dir, out string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", dir, err, output)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Process is a service binary started for a test.
type Process struct {
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with env added to the test's environment. The process is
// killed when the test ends if it is still running; its output is shown when
// the test fails.
func Start(tb testing.TB, bin string, env ...string) *Process {
	tb.Helper()
	p := &Process{cmd: exec.Command(bin), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if tb.Failed() {
			tb.Logf("%s output:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// Terminate sends SIGTERM, as an orchestrator stopping the process does, and
// waits up to timeout for it to exit. It returns the exit code and how long
// the exit took from the signal. A process still running after timeout is
// killed (SIGKILL) and the code is -1.
func (p *Process) Terminate(timeout time.Duration) (code int, took time.Duration) {
	signalled := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), time.Since(signalled)
	case <-time.After(timeout):
		p.Kill()
		return -1, time.Since(signalled)
	}
}

// Output is what the process has written to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// PeakRSS is the most resident memory the process has used so far, from
// /proc (Linux; 0 elsewhere or once it has exited).
func (p *Process) PeakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	return 0
}

// Kill kills the process at once (SIGKILL), as a crash would, and waits
// for it to be gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitServing waits until the gRPC server at addr reports SERVING for
// service ("" for the server as a whole).
func WaitServing(tb testing.TB, addr, service string, timeout time.Duration) {
	tb.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cc.Close()
	h := healthpb.NewHealthClient(cc)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		cancel()
		if err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not SERVING after %s: %v %v", addr, timeout, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CheckLifecycle runs a service binary as production does and checks the
// contract every service keeps: it serves gRPC health (SERVING for service)
// and reflection without an API key, Prometheus metrics on /metrics, and on
// SIGTERM exits 0 within grace.
// env adds settings (dependencies' addresses); the gRPC and metrics addresses
// and the dev API key are set here.
func CheckLifecycle(tb testing.TB, bin, service string, grace time.Duration, env ...string) {
	tb.Helper()
	addr, metricsAddr := FreeAddr(tb), FreeAddr(tb)
	p := Start(tb, bin, append([]string{
		"FEEDLOOP_GRPC_ADDR=" + addr,
		"FEEDLOOP_METRICS_ADDR=" + metricsAddr,
		"FEEDLOOP_API_KEYS=feedloop-dev-key=demo",
	}, env...)...)
	WaitServing(tb, addr, service, 30*time.Second)

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cc.Close()
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		tb.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		tb.Fatalf("reflection: %v", err)
	}
	listed := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		listed[s.Name] = true
	}
	for _, want := range []string{"grpc.health.v1.Health", service} {
		if want != "" && !listed[want] {
			tb.Errorf("reflection lists %v, missing %s", listed, want)
		}
	}
	_ = stream.CloseSend()

	resp2, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		tb.Fatalf("metrics: %v", err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("go_goroutines")) {
		tb.Errorf("GET /metrics = %d, %.200s", resp2.StatusCode, body)
	}

	if code, _ := p.Terminate(grace); code != 0 {
		tb.Fatalf("exit code after SIGTERM = %d, want 0 within %s", code, grace)
	}
}
