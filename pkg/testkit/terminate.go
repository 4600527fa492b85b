package testkit

import (
	"syscall"
	"time"
)

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
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, time.Since(signalled)
	}
}

// Output is what the process has written to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }
