package shmring

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrFault reports a memory fault (SIGBUS/SIGSEGV) while touching a shared
// mapping: the peer truncated a ring file under us. The connection is beyond
// repair, but the process is not.
var ErrFault = errors.New("memory fault on shared ring (file truncated by peer?)")

// guard runs f with faults on shared memory turned into ErrFault instead of
// killing the process. The ring files are writable by the client, so any
// access may hit a page the client cut off with ftruncate.
func guard(what string, f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			if re, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("%s: %w at %#x", what, ErrFault, re.Addr())
				return
			}
			panic(r) // not a fault: a real bug, keep it loud
		}
	}()
	return f()
}
