package qbipc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssBytes is a process's resident set size (VmRSS).
func rssBytes(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// TestSlowTrackersAgainstCorosync runs issue 9 part 7b's scenario against
// a real corosync 3.1.7 to pin down what it does, which budget.go cites:
// four cmap trackers that never read, a writer making sets SETs. corosync
// keeps every tracker connected and queues what does not fit their event
// rings on a list without limit (exec/ipc_glue.c), so its memory grows
// with the writer's SETs (about +59 MB for 40,000 SETs here; the test
// wants at least half of the event bytes beyond the rings). needle's answer to the same scenario is
// TestTrackersThatNeverRead and TestManySlowClients.
func TestSlowTrackersAgainstCorosync(t *testing.T) {
	if _, err := os.Stat(corosyncBin); err != nil {
		t.Skipf("real corosync not installed (%s): %v", corosyncBin, err)
	}
	if !inPrivateNamespaces(t) {
		return
	}
	cs, _ := runCorosync(t, "native")
	ctx := testCtx(t)
	var trackers []*Client
	for i := 0; i < 4; i++ {
		c := dialRetry(t, "cmap")
		if _, err := c.Request(ctx, cmapTrackAdd("qbipc.slow.", 4|2|1|8, uint64(i))); err != nil {
			t.Fatal(err)
		}
		trackers = append(trackers, c)
	}
	writer := dialRetry(t, "cmap")
	before := rssBytes(t, cs.Process.Pid)
	const sets = 40000
	for i := 1; i <= sets; i++ {
		resp, err := writer.Request(ctx, cmapSetU32("qbipc.slow.key", uint32(i)))
		if h, _ := DecodeRespHeader(resp); err != nil || h.Error != csOK {
			t.Fatalf("SET %d: %v %+v", i, err, h)
		}
	}
	after := rssBytes(t, cs.Process.Pid)
	// Each tracker's event ring (about 1 MiB) holds some 3,000 of the
	// 344-byte notifications; the rest, 37,000 per tracker, are queued.
	queued := 4 * (sets - 3000) * 344
	t.Logf("corosync RSS %d → %d bytes (+%d) after %d SETs to 4 trackers that never read; %d event bytes beyond their rings",
		before, after, after-before, sets, queued)
	if after-before < queued/2 {
		t.Errorf("corosync's memory grew by %d bytes only: does it bound its queue now? (budget.go's rationale)", after-before)
	}
	// Every tracker is still connected: its events are all there to read.
	for i, c := range trackers {
		ev, err := c.ReadEvent(ctx)
		if err != nil {
			t.Fatalf("tracker %d was disconnected by corosync: %v", i, err)
		}
		if v := le.Uint32(ev[336:]); v != 1 {
			t.Fatalf("tracker %d: first event for value %d, want 1", i, v)
		}
	}
}
