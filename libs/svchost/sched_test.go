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
		{coroconf.Map{}, SchedConfig{RR: true}, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no")}, SchedConfig{}, ""},
		{coroconf.Map{"system.sched_rr": value.Str("no"), "system.priority": value.Str("max")}, SchedConfig{Priority: -20, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("min")}, SchedConfig{RR: true, Priority: 19, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("-5")}, SchedConfig{RR: true, Priority: -5, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("-100")}, SchedConfig{RR: true, Priority: -20, SetNice: true}, ""},
		{coroconf.Map{"system.priority": value.Str("high")}, SchedConfig{}, "Priority value high is invalid"},
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

// TestApplySchedEveryThread: every thread of the process ends up under
// SCHED_RR at priority 99, including threads started afterwards (run as
// root; elsewhere the refusal is logged and the test skips).
func TestApplySchedEveryThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE)")
	}
	var logged strings.Builder
	ApplySched(SchedConfig{RR: true}, hclog.New(&hclog.LoggerOptions{Output: &logged}))
	if logged.Len() > 0 {
		t.Skipf("SCHED_RR refused here: %s", logged.String())
	}
	defer eachThread(func(tid int) error { return unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: 0}, 0) })
	// Force more threads into existence.
	done := make(chan struct{})
	for range 4 {
		go func() { runtime.LockOSThread(); <-done }()
	}
	runtime.Gosched()
	close(done)
	n := 0
	if err := eachThread(func(tid int) error {
		a, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			return err
		}
		n++
		if a.Policy != unix.SCHED_RR || a.Priority != rrMaxPriority {
			t.Errorf("thread %d: policy %d priority %d, want SCHED_RR %d", tid, a.Policy, a.Priority, rrMaxPriority)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads under SCHED_RR %d", n, rrMaxPriority)
}
