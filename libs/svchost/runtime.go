package svchost

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Runtime settings of a cluster daemon, where the environment does not
// choose (GOMAXPROCS, GOGC, GOMEMLIMIT win when set).
const (
	// daemonProcs: a daemon's work is one owner loop fed by I/O
	// goroutines, so extra processors mostly buy the scheduler's spinning
	// between them, on a node whose CPU the cluster shares with its
	// workload. Measured on a 3-node CPG load (1 KiB, one sender, the
	// same run): totemd's CPU per message fell about 15 % and cpgd's
	// about 30 %, with GCPercent below; corosync itself is one thread.
	daemonProcs = 1
	// daemonGCPercent: a daemon's live heap is small (megabytes), and at
	// Go's default of 100 the collector ran on every few thousand
	// messages (an eighth of cpgd's CPU under load).
	daemonGCPercent = 400
	// daemonMemLimit is a soft limit that makes the collector work harder
	// before the larger GC target lets the heap grow past it.
	daemonMemLimit = 256 << 20
)

// TuneRuntime applies the daemon runtime settings; the daemons call it
// when they start serving (not for their other subcommands).
func TuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(daemonProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(daemonGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(daemonMemLimit)
	}
}
