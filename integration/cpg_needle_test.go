package integration

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// cpgdBin is needle's cpgd, built once.
var cpgdBin struct {
	once sync.Once
	path string
	err  error
}

// haveCpgd builds cpgd and reports whether that worked.
func haveCpgd(tb testing.TB) bool {
	cpgdBin.once.Do(func() {
		cpgdBin.path = filepath.Join(bins.dir, "cpgd")
		if b, err := exec.Command("go", "build", "-o", cpgdBin.path, "../services/cpgd").CombinedOutput(); err != nil {
			cpgdBin.err = fmt.Errorf("go build cpgd: %v: %s", err, b)
		}
	})
	if cpgdBin.err != nil {
		tb.Logf("%v", cpgdBin.err)
	}
	return cpgdBin.err == nil
}

// needleCpg is a needle cluster with cpg: totemd, cmapd and cpgd per node.
type needleCpg struct {
	c                   *harness.Cluster
	totemd, cmapd, cpgd []*harness.Proc
}

// startCpgd starts cpgd on node i.
func (n *needleCpg) startCpgd(tb testing.TB, i int) {
	tb.Helper()
	p, err := n.c.Nodes[i].Start("cpgd", cpgdBin.path, "-f")
	if err != nil {
		tb.Fatal(err)
	}
	n.cpgd[i] = p
}

// needleCpgCluster starts totemd, cmapd and cpgd on n nodes and waits
// until Debian's corosync-cpgtool works on every node.
func needleCpgCluster(tb testing.TB, n int, o harness.ConfOptions) *needleCpg {
	tb.Helper()
	needCmapd(tb)
	if !haveCpgd(tb) {
		tb.Fatal(cpgdBin.err)
	}
	c := harness.New(tb, n)
	if err := c.WriteConf(o); err != nil {
		tb.Fatal(err)
	}
	nc := &needleCpg{c: c, totemd: make([]*harness.Proc, n), cmapd: make([]*harness.Proc, n), cpgd: make([]*harness.Proc, n)}
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		for _, ps := range [][]*harness.Proc{nc.totemd, nc.cmapd, nc.cpgd} {
			for _, p := range ps {
				if p != nil {
					out := p.Output()
					if len(out) > 5000 {
						out = "…" + out[len(out)-5000:]
					}
					tb.Logf("--- node %d %s:\n%s", p.Node.Index+1, p.Name, out)
				}
			}
		}
	})
	for i, nd := range c.Nodes {
		p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		if err != nil {
			tb.Fatal(err)
		}
		nc.totemd[i] = p
	}
	waitRing(tb, seq(n), 30*time.Second, nc.totemd...)
	for i, nd := range c.Nodes {
		p, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
		if err != nil {
			tb.Fatal(err)
		}
		nc.cmapd[i] = p
		nc.startCpgd(tb, i)
	}
	for _, nd := range c.Nodes {
		waitCpgtool(tb, nd, 20*time.Second)
	}
	return nc
}

// waitCpgtool waits until Debian's corosync-cpgtool succeeds on a node.
func waitCpgtool(tb testing.TB, nd *harness.Node, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := nd.Run(ctx, "corosync-cpgtool")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("corosync-cpgtool on node %d: %v: %s", nd.Index+1, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cpgtoolMembers lists "pid/nodeid" of every member corosync-cpgtool shows
// on a node (-d ' ': "group pid nodeid" lines).
func cpgtoolMembers(tb testing.TB, nd *harness.Node) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := nd.Run(ctx, "corosync-cpgtool", "-d", " ")
	if err != nil {
		tb.Fatalf("corosync-cpgtool on node %d: %v", nd.Index+1, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")[1:]
}

// waitMembersOf waits until corosync-cpgtool on nd shows exactly want
// members whose node id is node.
func waitMembersOf(tb testing.TB, nd *harness.Node, node, want int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var ms []string
	for time.Now().Before(deadline) {
		ms = cpgtoolMembers(tb, nd)
		n := 0
		for _, m := range ms {
			if strings.HasSuffix(m, fmt.Sprintf(" %d", node)) {
				n++
			}
		}
		if n == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("node %d shows %v, want %d members of node %d", nd.Index+1, ms, want, node)
}

// TestCpgdNeedle: three needle nodes (totemd, cmapd, cpgd). cpgload with
// every node sending, then 2 MiB messages (partial fragments) from two
// nodes: lost 0, one order hash. Debian's corosync-cpgtool
// and ours print the same on every node. kill -9 of node 3's cpgd: the
// other nodes see node 3's processes leave; after a restart new processes
// of node 3 appear everywhere again.
func TestCpgdNeedle(t *testing.T) {
	needNamespaces(t)
	buildCpgBins(t)
	nc := needleCpgCluster(t, 3, harness.ConfOptions{Token: 1000})
	rs := runCpgload(t, nc.c, "check", 1024, []int{2000, 2000, 2000})
	checkOneOrder(t, rs, 6000)
	t.Logf("needle: order hash %s on all 3 nodes, %v msg/s at node 1", rs[0].OrderHash, int(rs[0].MsgsPerS))
	// 2 MiB messages: libcpg-style PARTIAL_MCAST fragments through cpgd.
	rs = runCpgload(t, nc.c, "partial", 2<<20, []int{3, 3, 0})
	checkOneOrder(t, rs, 6)
	// Debian's own libcpg against cpgd: small and fragmented messages.
	runProbe(t, nc.c, "probe", 1000, 300)
	runProbe(t, nc.c, "probebig", 1536<<10, 2)
	compareCpgtool(t, nc.c)

	// holdGroups left 3 processes of node 3 in groups.
	waitMembersOf(t, nc.c.Nodes[0], 3, 3, 10*time.Second)
	nc.cpgd[2].Kill()
	waitMembersOf(t, nc.c.Nodes[0], 3, 0, 20*time.Second)
	waitMembersOf(t, nc.c.Nodes[1], 3, 0, 5*time.Second)
	nc.startCpgd(t, 2)
	waitCpgtool(t, nc.c.Nodes[2], 20*time.Second)
	p, err := nc.c.Nodes[2].Start("hold-again", cpgBins.load, "--group", "again", "--members", "99", "--count", "0", "--timeout", "60s")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	waitMembersOf(t, nc.c.Nodes[0], 3, 1, 20*time.Second)
	waitMembersOf(t, nc.c.Nodes[1], 3, 1, 5*time.Second)
}
