package svchost

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"golang.org/x/sys/unix"
)

// Scheduling follows corosync 3.1.7's system section, with one deliberate
// difference. corosync runs under SCHED_RR at the highest real-time
// priority unless system.sched_rr is "no" (and at nice -20 when SCHED_RR
// is refused), so that on a loaded node the token and the sync rounds do
// not wait for the CPU: at normal priority needle's rings formed up to
// 0.33 s late on a machine at load 7–9 where corosync's never did (README,
// Pacemaker differences). needle does neither by default, because both
// cost more than they buy with Go's runtime, whose threads spin and yield
// to each other before they sleep, measured on a 3-node CPG load (1 KiB):
//   - SCHED_RR (100 ms round-robin slices) starves the threads the
//     spinning ones wait for: 484 msg/s from one sender, totemd burning
//     116 CPU-seconds in 83 s, against 8,557–9,810 msg/s at nice 0;
//   - nice -20 on every daemon thread leaves throughput as it was but
//     starves the clients beside it, which stay at nice 0 (the load tool
//     here, Pacemaker's daemons on a real node): p99 delivery latency at
//     1,000 msg/s rose from 2.8–4.6 ms to 21.7–26.9 ms.
// So system.sched_rr is accepted and left at normal priority, and
// system.priority (max, min or a nice value; an invalid one is a
// configuration error, as in corosync) sets the nice value of every
// daemon thread when an administrator asks for it. corosync sets its
// single-threaded process; a Go daemon has several threads, so every
// thread is set (threads started later inherit it from the thread that
// starts them). system.move_to_root_cgroup is not acted on: the daemons
// stay in the cgroup their service manager put them in.

// SchedConfig is what the system section asks of needle: system.sched_rr
// is validated by coroconf and then not acted on (see above).
type SchedConfig struct {
	Nice    int  // the nice value system.priority asks for
	SetNice bool // system.priority given
}

// ParseSched reads system.priority.
func ParseSched(keys coroconf.Map) (SchedConfig, error) {
	var sc SchedConfig
	v, ok := keys["system.priority"]
	if !ok {
		return sc, nil
	}
	s, _ := v.AsString()
	switch s {
	case "max":
		sc.Nice = -20
	case "min":
		sc.Nice = 19
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return sc, fmt.Errorf("priority value %s is invalid", s)
		}
		sc.Nice = max(-20, min(19, int(n)))
	}
	sc.SetNice = true
	return sc, nil
}

// ApplySched sets every thread of the process as sc asks, logging what it
// could not do (a warning: the daemon runs on at its present priority).
func ApplySched(sc SchedConfig, log hclog.Logger) {
	if !sc.SetNice {
		return
	}
	if err := eachThread(func(tid int) error { return unix.Setpriority(unix.PRIO_PROCESS, tid, sc.Nice) }); err != nil {
		log.Warn(fmt.Sprintf("Could not set priority %d", sc.Nice), "error", err)
	}
}

// eachThread runs f for every thread of the process.
func eachThread(f func(tid int) error) error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := f(tid); err != nil && err != unix.ESRCH { // a thread may have ended
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}
