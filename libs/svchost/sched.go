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

// Scheduling follows corosync 3.1.7's system section: system.sched_rr
// (default yes) runs the daemon under SCHED_RR at the highest real-time
// priority, so that on a loaded node the token, the sync rounds and the
// quorum and CPG notifications are not kept waiting for the CPU (on a
// machine at load 7–9 needle's rings formed up to 0.33 s late at normal
// priority where corosync's never did: README, Pacemaker differences);
// when that is refused, or with system.priority (max, min or a nice
// value), the daemon's nice value is set instead, as corosync does when
// SCHED_RR fails. corosync calls sched_setscheduler once for its
// single-threaded process; a Go daemon has several threads, so every
// thread is set (threads started later inherit it from the thread that
// starts them). system.move_to_root_cgroup is not acted on: the daemons
// stay in the cgroup their service manager put them in.

// rrMaxPriority is sched_get_priority_max(SCHED_RR) on Linux, the
// priority corosync asks for.
const rrMaxPriority = 99

// SchedConfig is what the system section asks for.
type SchedConfig struct {
	RR       bool
	Priority int  // nice value when !RR or RR fails
	SetNice  bool // system.priority given (or RR failed)
}

// ParseSched reads system.sched_rr and system.priority; an invalid
// priority is a configuration error, as in corosync.
func ParseSched(keys coroconf.Map) (SchedConfig, error) {
	sc := SchedConfig{RR: true}
	if v, ok := keys["system.sched_rr"]; ok {
		s, _ := v.AsString()
		sc.RR = s == "yes"
	}
	if v, ok := keys["system.priority"]; ok {
		s, _ := v.AsString()
		switch s {
		case "max":
			sc.Priority, sc.SetNice = -20, true
		case "min":
			sc.Priority, sc.SetNice = 19, true
		default:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
				return sc, fmt.Errorf("Priority value %s is invalid", s)
			}
			sc.Priority, sc.SetNice = max(-20, min(19, int(n))), true
		}
	}
	return sc, nil
}

// ApplySched puts every thread of the process under sc, logging what it
// could not do (a warning: the daemon runs on at normal priority).
func ApplySched(sc SchedConfig, log hclog.Logger) {
	if sc.RR {
		const prio = rrMaxPriority
		err := eachThread(func(tid int) error {
			return unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_RR, Priority: prio}, 0)
		})
		if err == nil {
			return
		}
		log.Warn(fmt.Sprintf("Could not set SCHED_RR at priority %d", prio), "error", err)
		sc.Priority, sc.SetNice = -20, true
	}
	if sc.SetNice {
		if err := eachThread(func(tid int) error { return unix.Setpriority(unix.PRIO_PROCESS, tid, sc.Priority) }); err != nil {
			log.Warn(fmt.Sprintf("Could not set priority %d", sc.Priority), "error", err)
		}
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
