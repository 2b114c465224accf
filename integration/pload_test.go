package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// ploadBins is the pload command, built once (totemd serves pload).
var ploadBins struct {
	once sync.Once
	tool string
	err  error
}

func needPload(tb testing.TB) {
	tb.Helper()
	needCmapd(tb)
	ploadBins.once.Do(func() {
		ploadBins.tool = filepath.Join(bins.dir, "pload")
		const pkg = "../services/pload/cmd/pload"
		if b, err := exec.Command("go", "build", "-o", ploadBins.tool, pkg).CombinedOutput(); err != nil {
			ploadBins.err = fmt.Errorf("go build %s: %v: %s", pkg, err, b)
		}
	})
	if ploadBins.err != nil {
		tb.Fatal(ploadBins.err)
	}
}

// startPloadNode starts cmapd, whose pload.* keys start a run, on a node
// whose totemd runs (totemd serves pload itself).
func startPloadNode(tb testing.TB, nd *harness.Node) *harness.Proc {
	tb.Helper()
	p, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// ploadResult is the pload command's --json output.
type ploadResult struct {
	Writes   uint64  `json:"writes"`
	Size     uint64  `json:"size_bytes"`
	Runtime  float64 `json:"runtime_s"`
	TPS      float64 `json:"tp_per_s"`
	MBps     float64 `json:"mb_per_s"`
	Line     string  `json:"line"`
	RunCount uint64  `json:"run"`
}

// runPload runs the pload command on a node.
func runPload(tb testing.TB, nd *harness.Node, count, size int) ploadResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := nd.Run(ctx, ploadBins.tool, "-c", fmt.Sprint(count), "-s", fmt.Sprint(size), "--json", "--timeout", "150s")
	if err != nil {
		tb.Fatalf("pload on node %d: %v\n%s", nd.Index+1, err, out)
	}
	var r ploadResult
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("pload output %q: %v", out, err)
	}
	return r
}

var ploadLine = regexp.MustCompile(`(\d+) Writes (\d+) bytes per write +[0-9.]+ seconds runtime, +[0-9.a-z]+ TP/S, +[0-9.a-z]+ MB/S\.`)

// waitLog waits until a process's output matches re and returns the match.
func waitLog(tb testing.TB, p *harness.Proc, re *regexp.Regexp, timeout time.Duration) []string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			tb.Fatalf("node %d %s: no %q within %v", p.Node.Index+1, p.Name, re, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPloadNeedle runs pload twice on a 3-node needle ring: every node's
// totemd logs corosync's result line for the same count, the command
// prints it, runtime.pload.* holds it, pload.start is consumed, and every
// daemon is still running afterwards (corosync would have exited). A
// daemon attaching to the bus as pload is refused: totemd serves it.
func TestPloadNeedle(t *testing.T) {
	needNamespaces(t)
	needPload(t)
	c, totemds := needleCluster(t, 3, harness.ConfOptions{Token: 1000})
	procs := slices.Clone(totemds)
	dumpOnFailure(t, &procs)
	for _, nd := range c.Nodes {
		procs = append(procs, startPloadNode(t, nd))
	}
	waitValue(t, c.Nodes[0], "runtime.members.3.status", "joined\n", 20*time.Second)
	for run, count := range []int{20000, 5000} {
		r := runPload(t, c.Nodes[1], count, 300)
		if r.Writes != uint64(count) || r.Size != 300 || r.RunCount != uint64(run+1) || !ploadLine.MatchString(r.Line) {
			t.Fatalf("run %d: %+v", run+1, r)
		}
		t.Logf("run %d: %s", run+1, r.Line)
		for _, p := range procs {
			if p.Name != "totemd" {
				continue
			}
			re := regexp.MustCompile(fmt.Sprintf(`\b%d Writes 300 bytes per write`, count))
			waitLog(t, p, re, 30*time.Second)
		}
		for _, nd := range c.Nodes {
			waitValue(t, nd, "runtime.pload.writes", fmt.Sprint(count)+"\n", 30*time.Second)
		}
		res := ctl(t, c.Nodes[1], cmapBins.cmapctl, "-g", "pload.start")
		if res.Code == 0 {
			t.Fatalf("pload.start not consumed:\n%s", res)
		}
	}
	for _, p := range procs {
		if p.Exited() {
			t.Fatalf("node %d %s exited", p.Node.Index+1, p.Name)
		}
	}
}

// TestPloadMixedRing: in a ring of two real corosync 3.1.7 nodes and one
// needle node, a pload started through Debian's corosync-cmapctl on a
// corosync node runs on the needle node too: both corosync nodes log the
// result for the same count and exit with status 99, the needle node
// reports the same count in runtime.pload.writes.
func TestPloadMixedRing(t *testing.T) {
	c, procs := mixedPloadRing(t, 2)
	const count = 20000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"-s", "pload.count", "u32", fmt.Sprint(count)},
		{"-s", "pload.size", "u32", "300"},
		{"-s", "pload.start", "str", "i_totally_understand_pload_will_crash_my_cluster_and_kill_corosync_on_exit"},
	} {
		if out, err := c.Nodes[0].Run(ctx, append([]string{"corosync-cmapctl"}, args...)...); err != nil {
			t.Fatalf("corosync-cmapctl %v: %v\n%s", args, err, out)
		}
	}
	for _, p := range procs[:2] {
		corosyncPloadDone(t, p, count)
	}
	waitValue(t, c.Nodes[2], "runtime.pload.writes", fmt.Sprint(count)+"\n", 30*time.Second)
	if !strings.Contains(procs[2].Output(), fmt.Sprintf("%d Writes 300 bytes per write", count)) {
		t.Fatalf("needle totemd did not log the result:\n%s", procs[2].Output())
	}
}

// TestPloadMixedRingFromNeedle is the other way round: in a ring of one
// real corosync 3.1.7 node and two needle nodes, a pload started with the
// pload command on a needle node runs on the corosync node too (it logs
// the result for the same count and exits with status 99, corosync's
// end of a run), and both needle nodes report it.
func TestPloadMixedRingFromNeedle(t *testing.T) {
	c, procs := mixedPloadRing(t, 1)
	const count = 20000
	r := runPload(t, c.Nodes[1], count, 300)
	if r.Writes != count || r.Size != 300 || !ploadLine.MatchString(r.Line) {
		t.Fatalf("pload on node 2: %+v", r)
	}
	corosyncPloadDone(t, procs[0], count)
	waitValue(t, c.Nodes[2], "runtime.pload.writes", fmt.Sprint(count)+"\n", 30*time.Second)
}

// mixedPloadRing starts a ring of 3 whose first corosyncs nodes run real
// corosync 3.1.7 and the others totemd and cmapd, and waits until the
// needle nodes follow pload.*. procs: the corosyncs, then the needle
// nodes' totemds, then their cmapds.
func mixedPloadRing(t *testing.T, corosyncs int) (*harness.Cluster, []*harness.Proc) {
	t.Helper()
	needNamespaces(t)
	needCorosync(t)
	needPload(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	procs := new([]*harness.Proc)
	dumpOnFailure(t, procs)
	for _, nd := range c.Nodes[:corosyncs] {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		*procs = append(*procs, p)
	}
	for _, nd := range c.Nodes[corosyncs:] {
		*procs = append(*procs, startTotemd(t, nd))
	}
	waitNodes(t, 3, 30*time.Second, c.Nodes[:corosyncs]...)
	for _, nd := range c.Nodes[corosyncs:] {
		*procs = append(*procs, startPloadNode(t, nd))
	}
	for _, nd := range c.Nodes[corosyncs:] {
		waitValue(t, nd, "runtime.members.1.status", "joined\n", 20*time.Second)
	}
	time.Sleep(time.Second) // totemd tracks pload.* through cmapd; nothing observable waits for it
	return c, *procs
}

// corosyncPloadDone waits until corosync p logs pload's result line for
// count messages and exits with status 99, corosync's end of a run.
func corosyncPloadDone(t *testing.T, p *harness.Proc, count int) {
	t.Helper()
	if m := waitLog(t, p, ploadLine, 60*time.Second); m[1] != fmt.Sprint(count) {
		t.Fatalf("node %d: %s", p.Node.Index+1, m[0])
	}
	deadline := time.Now().Add(20 * time.Second)
	for !p.Exited() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if code := p.ExitCode(); code != 99 {
		t.Fatalf("corosync on node %d: exit %d, want 99 (corosync's pload exit)", p.Node.Index+1, code)
	}
}
