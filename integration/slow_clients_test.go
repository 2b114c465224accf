package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// Load of TestSlowTrackersMemorySideBySide: slowTrackers clients add a
// track on it.slow. and never read their events, while one writer sets
// it.slow.* keys to slowValueBytes-long strings as fast as the server
// answers, for slowLoadFor.
const (
	slowTrackers   = 6
	slowValueBytes = 512
	slowLoadFor    = 12 * time.Second
	// slowRSSCap stops the load early should a server's RSS pass it (the
	// corosync side grows without bound).
	slowRSSCap = 2 << 30
)

// rssBytes is pid's resident set size, or -1 once it is gone.
func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// ipcQueued reads cmap's per-connection stats (both corosync and needle
// keep stats.ipcs.service0.<pid>.<conn>.queued): for each client pid of
// cmap, the events queued for it.
func ipcQueued(t *testing.T, nd *harness.Node) map[int]uint64 {
	t.Helper()
	r := ctlWithin(t, 20*time.Second, nd, debianCmapctl, "-m", "stats", "stats.ipcs.service0.")
	q := map[int]uint64{}
	for _, l := range strings.Split(r.Stdout, "\n") {
		k, v, ok := strings.Cut(l, " (u32) = ")
		if !ok || !strings.HasSuffix(k, ".queued") {
			continue
		}
		f := strings.Split(k, ".")
		if len(f) < 6 {
			continue
		}
		pid, _ := strconv.Atoi(f[3])
		n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		q[pid] += n
	}
	return q
}

// TestSlowTrackersMemorySideBySide (issue 15, point 5): the same load —
// slowTrackers cmap clients (Debian's `corosync-cmapctl -T it.slow.`,
// its output a pipe nobody reads, so it stops reading its events) and
// one writer (`corosync-cmapctl -p` of a file of SETs, run again and
// again) — on corosync 3.1.7 and on needle's cmapd, for slowLoadFor. It
// logs the server's RSS each second, the events queued per tracker and
// when each tracker is dropped.
//
// corosync 3.1.7 queues a client's events in an unbounded list
// (exec/ipc_glue.c's outq) and never drops a client for not reading, so
// its part grows with the load: it runs only with NEEDLE_SIDE_BY_SIDE=1.
// needle's part runs always and asserts that memory stays bounded (the
// shared event budget, 128 MB by default) and that every dropped client
// is logged.
func TestSlowTrackersMemorySideBySide(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	for _, impl := range []string{"corosync", "needle"} {
		t.Run(impl, func(t *testing.T) {
			if impl == "corosync" && os.Getenv("NEEDLE_SIDE_BY_SIDE") != "1" {
				t.Skip("corosync's side grows to gigabytes: set NEEDLE_SIDE_BY_SIDE=1 to run it")
			}
			slowTrackersLoad(t, impl)
		})
	}
}

func slowTrackersLoad(t *testing.T, impl string) {
	_, nd, server := cmapNode(t, impl) // server: corosync itself, or cmapd
	logAt := len(server.Output())
	rss0 := rssBytes(server.PID())

	// The writer's file: SETs of eight keys, each value different from
	// the last (a SET of an equal value notifies nobody).
	var b strings.Builder
	pad := strings.Repeat("x", slowValueBytes-12)
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "it.slow.k%d str %010d%s\n", i%8, i, pad)
	}
	if err := nd.WriteFile("state/slowload.txt", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A key under the prefix exists before the trackers start.
	if r := ctl(t, nd, debianCmapctl, "-s", "it.slow.k0", "str", "start"); r.Code != 0 {
		t.Fatalf("cmapctl -s: %s", r)
	}

	// Each tracker's standard output is a pipe nobody reads: once the
	// pipe is full it blocks in a write and reads no more events.
	trackers := make([]int, slowTrackers) // cmapctl pids
	for i := range trackers {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := nodeCmd(context.Background(), nd, debianCmapctl, "-T", "it.slow.")
		// Its standard input stays open and silent: on end of file
		// (or "q") cmapctl -T quits.
		in, keep, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = in, w, w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		in.Close()
		trackers[i] = cmd.Process.Pid // the launch chain execs
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			r.Close()
			keep.Close()
		})
	}
	// Every tracker connected (its track is added right after).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		q := ipcQueued(t, nd)
		n := 0
		for _, pid := range trackers {
			if _, ok := q[pid]; ok {
				n++
			}
		}
		if n == len(trackers) {
			break
		}
		if time.Now().After(deadline) {
			r := ctlWithin(t, 20*time.Second, nd, debianCmapctl, "-m", "stats", "stats.ipcs.service0.")
			t.Fatalf("%d of %d trackers (%v) connected; queued by pid %v; stats:\n%s", n, len(trackers), trackers, q, r)
		}
	}
	time.Sleep(300 * time.Millisecond)
	t.Logf("%s: %d trackers of it.slow. that never read, pids %v; server RSS %d MB before the load", impl, len(trackers), trackers, rss0>>20)

	// The writer, run again and again until slowLoadFor is over.
	stop := make(chan struct{})
	writerDone := make(chan int)
	go func() {
		runs := 0
		defer func() { writerDone <- runs }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*slowLoadFor)
			out, err := nodeCmd(ctx, nd, debianCmapctl, "-p", "/var/lib/corosync/slowload.txt").CombinedOutput()
			cancel()
			if err != nil {
				t.Logf("%s: writer: %v: %s", impl, err, strings.TrimSpace(string(out)))
				return
			}
			runs++
		}
	}()

	start := time.Now()
	var peak int64
	droppedAt := map[int]time.Duration{}
	for time.Since(start) < slowLoadFor {
		time.Sleep(time.Second)
		rss := rssBytes(server.PID())
		if rss < 0 {
			t.Errorf("%s: the server is gone", impl)
			break
		}
		peak = max(peak, rss)
		q := ipcQueued(t, nd)
		var held []string
		connected := 0
		for i, pid := range trackers {
			n, ok := q[pid]
			if !ok {
				if _, was := droppedAt[pid]; !was {
					droppedAt[pid] = time.Since(start).Round(100 * time.Millisecond)
				}
				held = append(held, fmt.Sprintf("#%d gone", i+1))
				continue
			}
			connected++
			held = append(held, fmt.Sprintf("#%d %d", i+1, n))
		}
		t.Logf("%s: t=%2ds RSS %4d MB; %d of %d trackers connected; events queued per tracker: %s",
			impl, int(time.Since(start).Round(time.Second)/time.Second), rss>>20, connected, len(trackers), strings.Join(held, ", "))
		if rss > slowRSSCap {
			t.Logf("%s: RSS over %d MB: load stopped early", impl, slowRSSCap>>20)
			break
		}
	}
	close(stop)
	runs := <-writerDone
	sets := runs * 20000
	t.Logf("%s: load over after %v: the writer completed %d runs (%d SETs, each an event of a %d-byte value for each tracker); peak RSS %d MB (%d MB before)",
		impl, time.Since(start).Round(100*time.Millisecond), runs, sets, slowValueBytes, peak>>20, rss0>>20)
	var when []string
	for i, pid := range trackers {
		if d, ok := droppedAt[pid]; ok {
			when = append(when, fmt.Sprintf("#%d at ~%v", i+1, d))
		}
	}
	sort.Strings(when)
	t.Logf("%s: %d of %d trackers dropped during the load: %s", impl, len(droppedAt), len(trackers), strings.Join(when, ", "))

	var dropLog []string
	for _, l := range strings.Split(server.Output()[logAt:], "\n") {
		if strings.Contains(l, "not reading") || strings.Contains(l, "Q empty") || strings.Contains(l, "queue") {
			dropLog = append(dropLog, strings.TrimSpace(l))
		}
	}
	for i, l := range dropLog {
		if i == 10 {
			t.Logf("%s: server log: ... %d more such lines", impl, len(dropLog)-10)
			break
		}
		t.Logf("%s: server log: %s", impl, l)
	}
	if impl != "needle" {
		return
	}
	// needle: bounded in total (the 128 MB event budget, plus the
	// daemon's own memory and the Go heap's slack), every drop logged.
	const bound = 128<<20 + 192<<20
	if peak > rss0+bound {
		t.Errorf("needle: cmapd's RSS peaked at %d MB, %d MB before the load: more than the event budget allows", peak>>20, rss0>>20)
	}
	if len(droppedAt) == 0 {
		t.Errorf("needle: no tracker was dropped")
	}
	if n := strings.Count(server.Output()[logAt:], "not reading its events"); n < len(droppedAt) {
		t.Errorf("needle: %d trackers dropped, %d drop warnings", len(droppedAt), n)
	}
}
