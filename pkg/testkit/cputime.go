package testkit

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100
// on every Linux the tests run on).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time (user and system) process pid has used so far,
// from /proc (Linux; 0 elsewhere or once it has exited).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis start at field 3, so utime and stime (fields 14
	// and 15) are the 12th and 13th.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	var utime, stime int64
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0
	}
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * clockTick
}

// CPUTime is the CPU time the process has used so far.
func (p *Process) CPUTime() time.Duration { return cpuTime(p.cmd.Process.Pid) }

// CPUTime is the CPU time redis-server has used since it last started.
func (r *Redis) CPUTime() time.Duration { return cpuTime(r.cmd.Process.Pid) }

// SelfCPUTime is the CPU time the test process itself has used so far: the
// test's clients and, when it embeds one, the NATS server.
func SelfCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
