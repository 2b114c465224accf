package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// BenchmarkIdleCPU measures what an idle node costs (issue 12: "idle CPU
// of a node's daemons together ≤ corosync's"): a formed 3-node cluster
// with nothing to do, its processes' CPU time (user + system, from
// /proc/PID/stat) over NEEDLE_IDLE_SECS seconds (default 30) after a
// settling pause; corosync 3.1.7 alone against totemd + cmapd + quorumd +
// cpgd, the same timers, in the same run. One JSON line per implementation
// and one with the ratio.
func BenchmarkIdleCPU(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if !harness.HaveCorosync() {
		b.Skip("corosync not installed")
	}
	needCmapd(b)
	needQuorumtool(b)
	if !haveCpgd(b) {
		b.Fatal(cpgdBin.err)
	}
	window := 30 * time.Second
	if s := os.Getenv("NEEDLE_IDLE_SECS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("NEEDLE_IDLE_SECS=%q: want a positive number of seconds", s)
		}
		window = time.Duration(n) * time.Second
	}
	for i := 0; i < b.N; i++ {
		_, procs := corosyncCluster(b, 3, harness.ConfOptions{})
		coro, _ := idleCPU(b, procs, window)
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
		ndl, each := idleCPU(b, needleFullNodes(b), window)
		emit(b, map[string]any{"bench": "idle_cpu", "impl": "corosync", "nodes": 3, "window_s": window.Seconds(), "cpu_ms_per_node_s": coro})
		emit(b, map[string]any{"bench": "idle_cpu", "impl": "needle", "nodes": 3, "window_s": window.Seconds(), "cpu_ms_per_node_s": ndl, "by_daemon": each})
		line := map[string]any{"bench": "idle_cpu_vs_corosync", "needle_cpu_ms_per_node_s": ndl, "corosync_cpu_ms_per_node_s": coro}
		if coro > 0 {
			line["ratio"] = ndl / coro
		}
		emit(b, line)
	}
}

// needleFullNodes starts a 3-node needle cluster with every daemon on every
// node and waits for its ring and for cpgd to answer.
func needleFullNodes(b *testing.B) []*harness.Proc {
	c := harness.New(b, 3)
	if err := c.WriteConf(harness.ConfOptions{}); err != nil {
		b.Fatal(err)
	}
	var totemds, all []*harness.Proc
	for _, nd := range c.Nodes {
		p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		if err != nil {
			b.Fatal(err)
		}
		totemds = append(totemds, p)
	}
	waitRing(b, seq(3), 30*time.Second, totemds...)
	all = append(all, totemds...)
	for _, nd := range c.Nodes {
		for _, d := range []struct{ name, bin string }{{"cmapd", cmapBins.cmapd}, {"quorumd", quorumBins.quorumd}, {"cpgd", cpgdBin.path}} {
			p, err := nd.Start(d.name, d.bin, "-f")
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, p)
		}
	}
	for _, nd := range c.Nodes {
		waitCpgtool(b, nd, 30*time.Second)
	}
	return all
}

// idleCPU lets procs settle, then returns the CPU milliseconds they used
// together per node and per second of window, and the same by process
// name.
func idleCPU(b *testing.B, procs []*harness.Proc, window time.Duration) (float64, map[string]float64) {
	time.Sleep(5 * time.Second) // the first sync rounds and cmap writes are over
	before := cpuTicks(b, procs)
	time.Sleep(window)
	after := cpuTicks(b, procs)
	const hz = 100 // USER_HZ: /proc's clock ticks on Linux
	per := func(ticks uint64) float64 { return float64(ticks) * 1000 / hz / 3 / window.Seconds() }
	var total uint64
	each := map[string]float64{}
	for i, p := range procs {
		total += after[i] - before[i]
		each[p.Name] += per(after[i] - before[i])
	}
	return per(total), each
}

// cpuTicks is the user + system time of each of procs, in clock ticks.
func cpuTicks(b *testing.B, procs []*harness.Proc) []uint64 {
	out := make([]uint64, len(procs))
	for i, p := range procs {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
		if err != nil {
			b.Fatalf("%s on node %d: %v", p.Name, p.Node.Index+1, err)
		}
		// The fields after the command name, which may hold spaces.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(f) < 13 {
			b.Fatalf("%s: short /proc stat %q", p.Name, raw)
		}
		for _, s := range f[11:13] { // utime, stime
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				b.Fatalf("%s: /proc stat field %q: %v", p.Name, s, err)
			}
			out[i] += n
		}
	}
	return out
}
