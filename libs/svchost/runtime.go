package svchost

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
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

// SetupRuntime prepares the process of a daemon about to serve (not its
// other subcommands): the runtime settings above, then the scheduling the
// configuration's system section asks for (sched.go). An invalid
// system.priority is a configuration error, as in corosync.
func SetupRuntime(keys coroconf.Map, log hclog.Logger) error {
	tuneRuntime()
	sc, err := ParseSched(keys)
	if err != nil {
		return err
	}
	ApplySched(sc, log)
	return nil
}

// tuneRuntime applies the runtime settings.
func tuneRuntime() {
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
