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
		keys    coroconf.Map
		want    SchedConfig
		wantErr string
	}{
		{coroconf.Map{}, SchedConfig{}, ""},
		// accepted (coroconf validates it) and not acted on
		{coroconf.Map{"system.sched_rr": value.Str("yes")}, SchedConfig{}, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no")}, SchedConfig{}, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no"), "system.priority": value.Str("max")}, SchedConfig{Nice: -20, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("min")}, SchedConfig{Nice: 19, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("-5")}, SchedConfig{Nice: -5, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("-100")}, SchedConfig{Nice: -20, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("7")}, SchedConfig{Nice: 7, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("high")}, SchedConfig{}, "priority value high is invalid"},
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
	ApplySched(SchedConfig{Nice: -20, SetNice: true}, hclog.New(&hclog.LoggerOptions{Output: &logged}))
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
