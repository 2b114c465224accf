package svchost

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// cpuProfileEnv names the file prefix of CPU profiles (a diagnostic aid,
// not a corosync option): when set, the daemon profiles itself for its
// whole life and writes PREFIX.<program>.<pid>.<n>.pprof, one file per
// cpuProfileWindow, so a daemon killed with SIGKILL (as test clusters are
// torn down) still leaves every finished window behind. `go tool pprof
// -top FILES...` merges them.
const cpuProfileEnv = "NEEDLE_CPUPROFILE"

const cpuProfileWindow = 5 * time.Second

// StartCPUProfile starts profiling if cpuProfileEnv is set; the returned
// function writes the last window. Failures are reported on stderr and
// never stop the daemon.
func StartCPUProfile(ctx context.Context, program string) (stop func()) {
	prefix := os.Getenv(cpuProfileEnv)
	if prefix == "" {
		return func() {}
	}
	n := 0
	var f *os.File
	begin := func() bool {
		n++
		name := fmt.Sprintf("%s.%s.%d.%d.pprof", prefix, program, os.Getpid(), n)
		var err error
		if f, err = os.Create(name); err != nil {
			fmt.Fprintf(os.Stderr, "%s: cpu profile %s: %v\n", program, name, err)
			return false
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "%s: cpu profile %s: %v\n", program, name, err)
			f.Close()
			return false
		}
		return true
	}
	end := func() {
		pprof.StopCPUProfile()
		f.Close()
	}
	if !begin() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(cpuProfileWindow)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				end()
				return
			case <-t.C:
				end()
				if !begin() {
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
