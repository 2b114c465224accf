package integration

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// ploadFigure is one node's pload result line, parsed.
type ploadFigure struct {
	writes   int
	seconds  float64
	tps, mbs float64
}

var ploadFigures = regexp.MustCompile(`(\d+) Writes (\d+) bytes per write +([0-9.]+) seconds runtime, +([0-9.]+) TP/S, +([0-9.]+) MB/S\.`)

func parsePload(tb testing.TB, line string) ploadFigure {
	m := ploadFigures.FindStringSubmatch(line)
	if m == nil {
		tb.Fatalf("no pload result in %q", line)
	}
	var f ploadFigure
	f.writes, _ = strconv.Atoi(m[1])
	f.seconds, _ = strconv.ParseFloat(m[3], 64)
	f.tps, _ = strconv.ParseFloat(m[4], 64)
	f.mbs, _ = strconv.ParseFloat(m[5], 64)
	return f
}

// BenchmarkPload is the seed's figure: pload with PLOAD_COUNT (default
// 1,500,000) messages of 300 bytes on 3 nodes, on Debian's corosync 3.1.7
// and on needle (totemd, which serves pload, and cmapd) in the same run, started the
// same way (the pload.* cmap keys on node 1), printed with the ratio.
func BenchmarkPload(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	count := 1500000
	if s := os.Getenv("PLOAD_COUNT"); s != "" {
		count, _ = strconv.Atoi(s)
	}
	const size = 300
	// corosync: set the keys with Debian's tool; every node logs its
	// result and exits with status 99.
	c := harness.New(b, 3)
	if err := c.WriteConf(harness.ConfOptions{}); err != nil {
		b.Fatal(err)
	}
	var real []*harness.Proc
	for _, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			b.Fatal(err)
		}
		real = append(real, p)
	}
	waitNodesB(b, 3, 60*time.Second, c.Nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"-s", "pload.count", "u32", fmt.Sprint(count)},
		{"-s", "pload.size", "u32", fmt.Sprint(size)},
		{"-s", "pload.start", "str", "i_totally_understand_pload_will_crash_my_cluster_and_kill_corosync_on_exit"},
	} {
		if out, err := c.Nodes[0].Run(ctx, append([]string{"corosync-cmapctl"}, args...)...); err != nil {
			b.Fatalf("corosync-cmapctl %v: %v\n%s", args, err, out)
		}
	}
	coro := parsePload(b, waitLog(b, real[0], ploadLine, 10*time.Minute)[0])

	// needle: the same keys through the pload command on node 1.
	needPload(b)
	n := harness.New(b, 3)
	if err := n.WriteConf(harness.ConfOptions{}); err != nil {
		b.Fatal(err)
	}
	var procs []*harness.Proc
	for _, nd := range n.Nodes {
		p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitRing(b, "1 2 3", 30*time.Second, procs...)
	for _, nd := range n.Nodes {
		startPloadNode(b, nd)
	}
	time.Sleep(2 * time.Second) // cmapd attaches and totemd tracks pload.*; the command retries nothing
	r := runPload(b, n.Nodes[0], count, size)
	needle := parsePload(b, r.Line)
	emit(b, map[string]any{"bench": "pload_vs_corosync", "nodes": 3, "count": count, "size_bytes": size,
		"needle_tp_per_s": needle.tps, "corosync_tp_per_s": coro.tps,
		"needle_mb_per_s": needle.mbs, "corosync_mb_per_s": coro.mbs,
		"needle_runtime_s": needle.seconds, "corosync_runtime_s": coro.seconds,
		"ratio": needle.tps / coro.tps})
}

// waitNodesB waits until corosync-quorumtool on every node counts want
// nodes (waitNodes for benchmarks).
func waitNodesB(b *testing.B, want int, timeout time.Duration, nodes ...*harness.Node) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for _, nd := range nodes {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			got, err := quorumNodeCount(ctx, nd)
			cancel()
			if err == nil && got == want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("node %d: %d nodes (err %v), want %d", nd.Index+1, got, err, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
