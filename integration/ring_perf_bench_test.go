package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// ringSample is what a pload run cost a cluster: datagrams and bytes its
// nodes sent (eth0 of every namespace) and CPU seconds of the ring daemon
// (corosync, or totemd).
type ringSample struct {
	packets, bytes uint64
	cpu            float64
}

// ifaceTx reads eth0's transmit counters inside a node's namespace.
func ifaceTx(b *testing.B, nd *harness.Node) (packets, bytes uint64) {
	b.Helper()
	const base = "/sys/class/net/eth0/statistics/"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := nd.Run(ctx, "cat", base+"tx_packets", base+"tx_bytes")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		b.Fatalf("eth0 counters: %q", out)
	}
	packets, _ = strconv.ParseUint(f[0], 10, 64)
	bytes, _ = strconv.ParseUint(f[1], 10, 64)
	return packets, bytes
}

// procCPU is a process's user+system CPU in seconds (0 once it is gone).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100 // USER_HZ
}

// cpuWatch follows the CPU of processes until stopped; a process that
// exits keeps its last reading.
type cpuWatch struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	last map[int]float64
	base map[int]float64
}

func watchCPU(pids []int) *cpuWatch {
	w := &cpuWatch{stop: make(chan struct{}), last: map[int]float64{}, base: map[int]float64{}}
	for _, p := range pids {
		w.base[p] = procCPU(p)
		w.last[p] = w.base[p]
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			w.mu.Lock()
			for _, p := range pids {
				if c := procCPU(p); c > 0 {
					w.last[p] = c
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *cpuWatch) done() float64 {
	close(w.stop)
	w.wg.Wait()
	var s float64
	for p, c := range w.last {
		s += c - w.base[p]
	}
	return s
}

func txAll(b *testing.B, c *harness.Cluster) (p, by uint64) {
	for _, nd := range c.Nodes {
		a, bb := ifaceTx(b, nd)
		p += a
		by += bb
	}
	return p, by
}

// BenchmarkRingPerf is pload (PLOAD_COUNT, default 1,500,000 × 300 B, 3
// nodes) on corosync 3.1.7 and on needle in the same run, as
// BenchmarkPload, with what each run cost: datagrams and bytes sent by
// all nodes and the ring daemon's CPU (corosync; totemd), per message.
func BenchmarkRingPerf(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if !harness.HaveCorosync() {
		b.Skip("corosync not installed")
	}
	count := 1500000
	if s := os.Getenv("PLOAD_COUNT"); s != "" {
		count, _ = strconv.Atoi(s)
	}
	const size = 300
	for i := 0; i < b.N; i++ {
		c := harness.New(b, 3)
		if err := c.WriteConf(harness.ConfOptions{}); err != nil {
			b.Fatal(err)
		}
		var real []*harness.Proc
		var pids []int
		for _, nd := range c.Nodes {
			p, err := nd.Start("corosync", "corosync", "-f")
			if err != nil {
				b.Fatal(err)
			}
			real = append(real, p)
			pids = append(pids, p.PID())
		}
		waitNodesB(b, 3, 60*time.Second, c.Nodes...)
		p0, by0 := txAll(b, c)
		w := watchCPU(pids)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, args := range [][]string{
			{"-s", "pload.count", "u32", fmt.Sprint(count)},
			{"-s", "pload.size", "u32", fmt.Sprint(size)},
			{"-s", "pload.start", "str", "i_totally_understand_pload_will_crash_my_cluster_and_kill_corosync_on_exit"},
		} {
			if out, err := c.Nodes[0].Run(ctx, append([]string{"corosync-cmapctl"}, args...)...); err != nil {
				b.Fatalf("corosync-cmapctl %v: %v\n%s", args, err, out)
			}
		}
		cancel()
		coro := parsePload(b, waitLog(b, real[0], ploadLine, 10*time.Minute)[0])
		cs := ringSample{cpu: w.done()}
		p1, by1 := txAll(b, c)
		cs.packets, cs.bytes = p1-p0, by1-by0

		needPload(b)
		n := harness.New(b, 3)
		if err := n.WriteConf(harness.ConfOptions{}); err != nil {
			b.Fatal(err)
		}
		var procs []*harness.Proc
		pids = nil
		for _, nd := range n.Nodes {
			p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
			if err != nil {
				b.Fatal(err)
			}
			procs = append(procs, p)
			pids = append(pids, p.PID())
		}
		waitRing(b, "1 2 3", 30*time.Second, procs...)
		for _, nd := range n.Nodes {
			startPloadNode(b, nd)
		}
		time.Sleep(2 * time.Second)
		p0, by0 = txAll(b, n)
		w = watchCPU(pids)
		r := runPload(b, n.Nodes[0], count, size)
		ns := ringSample{cpu: w.done()}
		p1, by1 = txAll(b, n)
		ns.packets, ns.bytes = p1-p0, by1-by0
		needle := parsePload(b, r.Line)
		per := func(s ringSample) map[string]any {
			return map[string]any{"datagrams_per_msg": float64(s.packets) / float64(count),
				"bytes_per_msg":  float64(s.bytes) / float64(count),
				"cpu_us_per_msg": s.cpu * 1e6 / float64(count)}
		}
		emit(b, map[string]any{"bench": "ring_perf_pload", "count": count, "size_bytes": size,
			"needle_tp_per_s": needle.tps, "corosync_tp_per_s": coro.tps, "ratio": needle.tps / coro.tps,
			"needle": per(ns), "corosync": per(cs)})
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
	}
}

// BenchmarkRingPerf64K is BenchmarkRingCeiling's 64 KiB one-sender CPG
// load (RING64K_COUNT messages, default 900) on corosync 3.1.7 and on
// needle in the same run, with what each run cost the cluster: datagrams
// and bytes sent by all nodes and the ring daemon's CPU (corosync; totemd
// and cpgd), per message.
func BenchmarkRingPerf64K(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if !harness.HaveCorosync() {
		b.Skip("corosync not installed")
	}
	buildCpgBins(b)
	if !haveCpgd(b) {
		b.Fatal(cpgdBin.err)
	}
	count := 900
	if s := os.Getenv("RING64K_COUNT"); s != "" {
		count, _ = strconv.Atoi(s)
	}
	const size = 65536
	run := func(c *harness.Cluster, pids []int, group string) (float64, ringSample, map[string]any) {
		p0, by0 := txAll(b, c)
		srp0 := srpStatsAll(b, c)
		w := watchCPU(pids)
		start := time.Now()
		worst := oneSenderRate(b, c, group, size, count)
		took := time.Since(start)
		s := ringSample{cpu: w.done()}
		p1, by1 := txAll(b, c)
		s.packets, s.bytes = p1-p0, by1-by0
		return worst, s, srpDelta(b, c, srp0, took)
	}
	per := func(s ringSample) map[string]any {
		return map[string]any{"datagrams_per_msg": float64(s.packets) / float64(count),
			"bytes_per_msg":  float64(s.bytes) / float64(count),
			"cpu_us_per_msg": s.cpu * 1e6 / float64(count)}
	}
	for i := 0; i < b.N; i++ {
		c, procs := corosyncCluster(b, 3, harness.ConfOptions{})
		var pids []int
		for _, p := range procs {
			pids = append(pids, p.PID())
		}
		coro, cs, csrp := run(c, pids, "perf64c")
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
		n := needleCpgCluster(b, 3, harness.ConfOptions{})
		pids = nil
		for _, ps := range [][]*harness.Proc{n.totemd, n.cpgd} {
			for _, p := range ps {
				pids = append(pids, p.PID())
			}
		}
		ndl, ns, nsrp := run(n.c, pids, "perf64n")
		n.stopAll()
		emit(b, map[string]any{"bench": "ring_perf_cpg_64KiB", "count": count,
			"needle_mb_per_s": ndl, "corosync_mb_per_s": coro, "ratio": ndl / coro,
			"needle": per(ns), "corosync": per(cs), "needle_srp": nsrp, "corosync_srp": csrp})
	}
}

// srpCounters are the Totem counters both implementations keep in cmap's
// stats map (stats.srp.*) that tell how the token went round under load.
var srpCounters = []string{"orf_token_rx", "mcast_tx", "mcast_retx", "mcast_rx", "token_hold_cancel_tx"}

// srpStatsAll reads the stats map of every node (corosyncRxStats:
// Totem's counters are keyed "srp.<name>").
func srpStatsAll(b *testing.B, c *harness.Cluster) []map[string]uint64 {
	b.Helper()
	var all []map[string]uint64
	for _, nd := range c.Nodes {
		all = append(all, corosyncRxStats(b, nd))
	}
	return all
}

// srpDelta is what the token did during a run of took, per node: token
// visits per second, frames this node multicast per visit, and the
// counters' growth. needle's totemd writes its stats every 1.5 s, so the
// second reading waits for that.
func srpDelta(b *testing.B, c *harness.Cluster, before []map[string]uint64, took time.Duration) map[string]any {
	b.Helper()
	time.Sleep(1600 * time.Millisecond)
	after := srpStatsAll(b, c)
	out := map[string]any{}
	for i := range after {
		d := map[string]any{}
		grew := func(k string) uint64 { return after[i]["srp."+k] - before[i]["srp."+k] }
		for _, k := range srpCounters {
			d[k] = grew(k)
		}
		if tok := grew("orf_token_rx"); tok > 0 {
			d["tokens_per_s"] = float64(tok) / took.Seconds()
			d["mcast_tx_per_token"] = float64(grew("mcast_tx")) / float64(tok)
		}
		out[fmt.Sprintf("node%d", i+1)] = d
	}
	return out
}
