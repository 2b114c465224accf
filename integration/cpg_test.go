package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// cpgBins are the cpg binaries, built once on first use (TestMain builds
// the ring's; these belong to cpgd's module).
var cpgBins struct {
	once             sync.Once
	load, tool, cpgd string
	err              error
}

func buildCpgBins(tb testing.TB) {
	tb.Helper()
	cpgBins.once.Do(func() {
		if bins.err != nil {
			cpgBins.err = bins.err
			return
		}
		cpgBins.load = filepath.Join(bins.dir, "cpgload")
		cpgBins.tool = filepath.Join(bins.dir, "cpgtool")
		for pkg, out := range map[string]string{"../services/cpgd/cmd/cpgload": cpgBins.load, "../services/cpgd/cmd/cpgtool": cpgBins.tool} {
			if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				cpgBins.err = fmt.Errorf("go build %s: %v: %s", pkg, err, b)
				return
			}
		}
	})
	if cpgBins.err != nil {
		tb.Fatal(cpgBins.err)
	}
}

// loadResult is the part of cpgload's JSON line the tests read.
type loadResult struct {
	Node       uint32  `json:"node"`
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	Senders    int     `json:"senders"`
	Lost       uint64  `json:"lost"`
	Duplicates uint64  `json:"duplicates"`
	FIFO       uint64  `json:"fifo_violations"`
	Departed   int     `json:"departed"`
	OrderHash  string  `json:"order_hash"`
	MsgsPerS   float64 `json:"msgs_per_s"`
	MBPerS     float64 `json:"mb_per_s"`
	P50us      float64 `json:"latency_p50_us"`
	P99us      float64 `json:"latency_p99_us"`
	MaxUs      float64 `json:"latency_max_us"`
	TryAgain   uint64  `json:"try_again"`
	OK         bool    `json:"ok"`
	line       string
}

// runCpgload runs cpgload on every node of c at once (counts[i] messages
// from node i, 0 = receive only) and returns each node's JSON result.
func runCpgload(tb testing.TB, c *harness.Cluster, group string, size int, counts []int, extra ...string) []loadResult {
	tb.Helper()
	return runCpgloadOn(tb, c.Nodes, group, size, counts, extra...)
}

// runCpgloadOn is runCpgload on some nodes of a cluster (counts[i] for
// nodes[i]; the group waits for len(nodes) members).
func runCpgloadOn(tb testing.TB, nodes []*harness.Node, group string, size int, counts []int, extra ...string) []loadResult {
	tb.Helper()
	return cpgloadResults(tb, startCpgloadOn(tb, nodes, group, size, counts, extra...))
}

// startCpgloadOn starts runCpgloadOn's cpgload instances.
func startCpgloadOn(tb testing.TB, nodes []*harness.Node, group string, size int, counts []int, extra ...string) []*harness.Proc {
	tb.Helper()
	procs := make([]*harness.Proc, len(nodes))
	for i, nd := range nodes {
		args := append([]string{cpgBins.load, "--group", group, "--members", fmt.Sprint(len(nodes)), "--size", fmt.Sprint(size),
			"--count", fmt.Sprint(counts[i]), "--timeout", "150s"}, extra...)
		p, err := nd.Start("cpgload-"+group, args...)
		if err != nil {
			tb.Fatal(err)
		}
		procs[i] = p
	}
	return procs
}

// cpgloadResults waits for cpgload instances to end and returns their
// JSON results.
func cpgloadResults(tb testing.TB, procs []*harness.Proc) []loadResult {
	tb.Helper()
	out := make([]loadResult, len(procs))
	deadline := time.Now().Add(170 * time.Second)
	for i, p := range procs {
		for !p.Exited() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !p.Exited() {
			p.Kill()
			tb.Fatalf("cpgload on node %d did not finish: %s", p.Node.Index+1, p.Output())
		}
		var line string
		for _, l := range strings.Split(p.Output(), "\n") {
			if strings.HasPrefix(l, `{"tool":"cpgload"`) {
				line = l
			}
		}
		if line == "" || json.Unmarshal([]byte(line), &out[i]) != nil {
			tb.Fatalf("cpgload on node %d (exit %d) printed no result: %s", p.Node.Index+1, p.ExitCode(), p.Output())
		}
		out[i].line = line
	}
	return out
}

// checkOneOrder wants every node complete, lost 0, no duplicate, FIFO
// kept and one order hash.
func checkOneOrder(tb testing.TB, rs []loadResult, want uint64) {
	tb.Helper()
	for i, r := range rs {
		if !r.OK || r.Lost != 0 || r.Duplicates != 0 || r.FIFO != 0 || r.Received != want || r.OrderHash != rs[0].OrderHash {
			for _, x := range rs {
				tb.Logf("%s", x.line)
			}
			tb.Fatalf("node %d: ok %v lost %d dup %d fifo %d received %d (want %d) hash %s vs %s",
				i+1, r.OK, r.Lost, r.Duplicates, r.FIFO, r.Received, want, r.OrderHash, rs[0].OrderHash)
		}
	}
}

// corosyncCluster starts Debian's corosync on n nodes and waits until
// every node sees all n.
func corosyncCluster(tb testing.TB, n int, o harness.ConfOptions) (*harness.Cluster, []*harness.Proc) {
	tb.Helper()
	c := harness.New(tb, n)
	if err := c.WriteConf(o); err != nil {
		tb.Fatal(err)
	}
	procs := make([]*harness.Proc, n)
	for i, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			tb.Fatal(err)
		}
		procs[i] = p
	}
	tb.Cleanup(func() {
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok := true
		for _, nd := range c.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			k, err := quorumNodeCount(ctx, nd)
			cancel()
			if err != nil || k != n {
				ok = false
				break
			}
		}
		if ok {
			return c, procs
		}
		if time.Now().After(deadline) {
			for _, p := range procs {
				tb.Logf("node %d corosync:\n%s", p.Node.Index+1, p.Output())
			}
			tb.Fatalf("corosync ring of %d did not form", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCpgloadRealCorosync: cpgload on a 3-node Debian corosync 3.1.7
// cluster, every node sending 1 KiB messages flat out: nothing lost, one
// delivery order; the real-libcpg probe (testdata/cpgprobe.c) passes with
// small and fragmented (1.5 MiB) messages; then Debian's corosync-cpgtool
// and ours agree on the groups while members hold them.
func TestCpgloadRealCorosync(t *testing.T) {
	needCorosync(t)
	buildCpgBins(t)
	c, _ := corosyncCluster(t, 3, harness.ConfOptions{Token: 1000})
	rs := runCpgload(t, c, "check", 1024, []int{2000, 2000, 2000})
	checkOneOrder(t, rs, 6000)
	t.Logf("order hash %s on all 3 nodes", rs[0].OrderHash)
	runProbe(t, c, "probe", 1000, 300)
	runProbe(t, c, "probebig", 1536<<10, 2)
	compareCpgtool(t, c)
}

// holdGroups joins cpgload instances that never start sending (they wait
// for more members than exist) to a few groups on every node, so the
// cpgtools have something to list, and stops them at the end.
func holdGroups(t *testing.T, c *harness.Cluster) {
	t.Helper()
	var procs []*harness.Proc
	for i, nd := range c.Nodes {
		for _, g := range []string{"alpha", "beta", "gamma"}[:i+1] {
			p, err := nd.Start("hold-"+g, cpgBins.load, "--group", g, "--members", "99", "--count", "0", "--timeout", "60s")
			if err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.Kill()
		}
	})
	want := strings.Count("alpha beta gamma alpha beta alpha", " ") + 1
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := c.Nodes[0].Run(context.Background(), "corosync-cpgtool", "-d", " ")
		if strings.Count(string(out), "\n")-1 == want || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// compareCpgtool runs Debian's corosync-cpgtool and ours on every node
// with several option sets and wants the same bytes.
func compareCpgtool(t *testing.T, c *harness.Cluster) {
	t.Helper()
	holdGroups(t, c)
	for _, nd := range c.Nodes {
		for _, args := range [][]string{{}, {"-n"}, {"-d", ","}, {"-n", "-d", ";"}, {"-e"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			real, err1 := nd.Run(ctx, append([]string{"corosync-cpgtool"}, args...)...)
			ours, err2 := nd.Run(ctx, append([]string{cpgBins.tool}, args...)...)
			cancel()
			if err1 != nil || err2 != nil || string(real) != string(ours) {
				t.Fatalf("node %d cpgtool %q:\nreal (%v):\n%s\nours (%v):\n%s", nd.Index+1, args, err1, real, err2, ours)
			}
			if len(args) == 0 && nd.Index == 0 {
				t.Logf("corosync-cpgtool on node 1:\n%s", real)
			}
		}
	}
}

// probeBin is testdata/cpgprobe.c built against Debian's libcpg.so.4.
var probeBin struct {
	once sync.Once
	path string
	err  error
}

const libcpg = "/usr/lib/x86_64-linux-gnu/libcpg.so.4"

// runProbe runs the real-libcpg probe on every node at once (size-byte
// messages, count from each) and wants every node to report success.
func runProbe(t *testing.T, c *harness.Cluster, group string, size, count int) {
	t.Helper()
	probeBin.once.Do(func() {
		probeBin.path = filepath.Join(bins.dir, "cpgprobe")
		if b, err := exec.Command("gcc", "-Wall", "-O2", "-o", probeBin.path, "testdata/cpgprobe.c", libcpg).CombinedOutput(); err != nil {
			probeBin.err = fmt.Errorf("gcc cpgprobe.c: %v: %s", err, b)
		}
	})
	if probeBin.err != nil {
		t.Skipf("real libcpg probe unavailable: %v", probeBin.err)
	}
	var procs []*harness.Proc
	for _, nd := range c.Nodes {
		p, err := nd.Start("cpgprobe-"+group, probeBin.path, group, fmt.Sprint(len(c.Nodes)), fmt.Sprint(size), fmt.Sprint(count))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, p := range procs {
		for !p.Exited() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		p.Kill()
		want := fmt.Sprintf("cpgprobe ok received=%d totem=", count*len(c.Nodes))
		if p.ExitCode() != 0 || !strings.Contains(p.Output(), want) {
			t.Fatalf("libcpg probe on node %d (exit %d): %s", p.Node.Index+1, p.ExitCode(), p.Output())
		}
	}
	t.Logf("libcpg probe, %d × %d B from each node: ok on all nodes", count, size)
}
