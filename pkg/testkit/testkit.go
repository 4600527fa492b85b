// Package testkit starts real dependencies for tests: an embedded NATS server
// with JetStream, and a real redis-server process. No mocks: what the tests
// prove holds against the same servers production runs.
package testkit

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
)

// JetStream is an embedded NATS server with JetStream, started for one test.
type JetStream struct {
	*server.Server
	opts server.Options
}

// StartJetStream starts a NATS server with JetStream on a free loopback port,
// storing in its own temporary directory, and shuts it down when the test
// ends. Tests may call Shutdown on it early to simulate an outage.
func StartJetStream(tb testing.TB) *JetStream {
	tb.Helper()
	return startJetStream(tb, server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
}

// Restart starts the server again, after a Shutdown, on the same port and
// store directory, as a restarted nats-server comes back: clients reconnect
// and the streams are still there.
func (j *JetStream) Restart(tb testing.TB) *JetStream {
	tb.Helper()
	return startJetStream(tb, j.opts)
}

func startJetStream(tb testing.TB, opts server.Options) *JetStream {
	tb.Helper()
	s, err := server.NewServer(&opts)
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server did not become ready within 10s")
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	opts.Port = s.Addr().(*net.TCPAddr).Port // a restart comes back on the same port
	return &JetStream{Server: s, opts: opts}
}

// Redis is a redis-server process started for one test.
type Redis struct {
	// URL connects to it, e.g. "unix:///tmp/rd123/redis.sock".
	URL    string
	Client *redis.Client
	cmd    *exec.Cmd
	out    *bytes.Buffer
	stop   sync.Once
}

// StartRedis starts redis-server on a unix socket in a private temporary
// directory (no TCP port, no persistence) and stops it when the test ends.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	return startRedis(tb, "--save", "", "--appendonly", "no")
}

// StartDurableRedis is StartRedis with the append-only file on (fsync every
// second, rewritten after growing 1 GB), as make run and production run it:
// after Shutdown and Restart the data is still there.
func StartDurableRedis(tb testing.TB) *Redis {
	tb.Helper()
	return startRedis(tb, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--auto-aof-rewrite-min-size", "1gb")
}

func startRedis(tb testing.TB, persistence ...string) *Redis {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server not found on PATH; the tests need a real Redis. Install it with " +
			"`sudo apt-get install -y redis-server` (Debian/Ubuntu), `brew install redis` (macOS), or run scripts/deps.sh")
	}
	// Unix socket paths are limited to ~100 bytes, and t.TempDir() can be
	// longer, so the socket lives in a short directory of its own.
	dir, err := os.MkdirTemp("", "flrd")
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, append([]string{
		"--port", "0",
		"--unixsocket", sock,
		"--unixsocketperm", "700",
		"--dir", dir,
		"--loglevel", "warning",
	}, persistence...)...)
	r := &Redis{URL: "unix://" + sock, cmd: cmd, out: new(bytes.Buffer)} // output shown only when the test fails
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(func() {
		if r.Client != nil {
			r.Client.Close()
		}
		r.Stop()
		if tb.Failed() {
			tb.Logf("redis-server output:\n%s", r.out.String())
		}
		os.RemoveAll(dir)
	})
	r.Client = redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	r.waitReady(tb)
	return r
}

// Restart starts the server again after Stop or Shutdown, on the same
// socket, as after an outage: empty, or for StartDurableRedis with its data.
func (r *Redis) Restart(tb testing.TB) {
	tb.Helper()
	r.cmd = exec.Command(r.cmd.Path, r.cmd.Args[1:]...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		tb.Fatalf("restart redis-server: %v", err)
	}
	r.stop = sync.Once{}
	r.waitReady(tb)
}

func (r *Redis) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.Client.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server did not answer within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Info reads one section of the server's INFO as name → value.
func (r *Redis) Info(tb testing.TB, section string) map[string]string {
	tb.Helper()
	text, err := r.Client.Info(context.Background(), section).Result()
	if err != nil {
		tb.Fatalf("INFO %s: %v", section, err)
	}
	info := map[string]string{}
	for line := range strings.Lines(text) {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(name, "#") {
			info[name] = value
		}
	}
	return info
}

// Shutdown stops the server as an operator would (SIGTERM: a durable
// server writes its append-only file out first) and waits for it to exit.
func (r *Redis) Shutdown() {
	r.stop.Do(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
	})
}

// Stop kills the server, to simulate an outage.
func (r *Redis) Stop() {
	r.stop.Do(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
}
