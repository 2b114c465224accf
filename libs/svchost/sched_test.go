package svchost

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"golang.org/x/sys/unix"
)

func TestParseSched(t *testing.T) {
	for _, tc := range []struct {
		keys     coroconf.Map
		want     SchedConfig
		nice     int
		setsNice bool
		wantErr  string
	}{
		{coroconf.Map{}, SchedConfig{RR: true}, 0, false, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no")}, SchedConfig{}, 0, false, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no"), "system.priority": value.Str("max")}, SchedConfig{Priority: -20, SetNice: true}, -20, true, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no"), "system.priority": value.Str("min")}, SchedConfig{Priority: 19, SetNice: true}, 19, true, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no"), "system.priority": value.Str("-5")}, SchedConfig{Priority: -5, SetNice: true}, -5, true, ""},
		{coroconf.Map{"system.priority": value.Str("-100")}, SchedConfig{RR: true, Priority: -20, SetNice: true}, -20, true, ""},
		{coroconf.Map{"system.priority": value.Str("7")}, SchedConfig{RR: true, Priority: 7, SetNice: true}, 7, true, ""},
		{coroconf.Map{"system.priority": value.Str("high")}, SchedConfig{}, 0, false, "priority value high is invalid"},
	} {
		got, err := ParseSched(tc.keys)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%v: error %v, want %q", tc.keys, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v %v, want %+v", tc.keys, got, err, tc.want)
		}
		if nice, ok := got.Nice(); nice != tc.nice || ok != tc.setsNice {
			t.Errorf("%v: Nice() = %d, %v; want %d, %v", tc.keys, nice, ok, tc.nice, tc.setsNice)
		}
	}
}

// TestApplySchedEveryThread: every thread of the process ends up at the
// nice value asked for, including threads started afterwards (lowering
// it needs root; elsewhere the refusal is logged and the test skips).
func TestApplySchedEveryThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE)")
	}
	var logged strings.Builder
	ApplySched(SchedConfig{Priority: -20, SetNice: true}, hclog.New(&hclog.LoggerOptions{Output: &logged}))
	if logged.Len() > 0 {
		t.Skipf("nice -20 refused here: %s", logged.String())
	}
	defer eachThread(func(tid int) error { return unix.Setpriority(unix.PRIO_PROCESS, tid, 0) })
	done := make(chan struct{})
	for range 4 {
		go func() { runtime.LockOSThread(); <-done }()
	}
	runtime.Gosched()
	close(done)
	n := 0
	if err := eachThread(func(tid int) error {
		// getpriority returns 20 - nice for PRIO_PROCESS on Linux.
		p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			return err
		}
		n++
		if nice := 20 - p; nice != -20 {
			t.Errorf("thread %d: nice %d, want -20", tid, nice)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads at nice -20", n)
}
