package integration

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// needCorosync skips when Debian's corosync is not installed; .ci/run installs it.
func needCorosync(t testing.TB) {
	t.Helper()
	if why := harness.Requirements(); why != "" {
		t.Skip(why)
	}
	if !harness.HaveCorosync() {
		t.Skip("corosync not installed (apt-get install corosync)")
	}
}

var quorumNodes = regexp.MustCompile(`(?m)^Nodes:\s+(\d+)`)

// quorumNodeCount asks corosync-quorumtool on node i how many nodes it sees.
func quorumNodeCount(ctx context.Context, nd *harness.Node) (int, error) {
	out, err := nd.Run(ctx, "corosync-quorumtool", "-s")
	m := quorumNodes.FindSubmatch(out)
	if m == nil {
		if err == nil {
			err = fmt.Errorf("no Nodes: line in %q", out)
		}
		return 0, err
	}
	return strconv.Atoi(string(m[1]))
}

// waitNodes waits until every listed node reports want members.
func waitNodes(t *testing.T, want int, timeout time.Duration, nodes ...*harness.Node) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		ok := true
		for _, nd := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			n, err := quorumNodeCount(ctx, nd)
			cancel()
			if err != nil || n != want {
				ok = false
				last = fmt.Sprintf("node %d: n=%d err=%v", nd.Index+1, n, err)
				break
			}
		}
		if ok {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("after %v nodes do not all see %d members; last: %s", timeout, want, last)
	return 0
}

// TestRealCorosyncRing proves the harness with the reference implementation:
// three Debian corosync 3.1.7 nodes in namespaces form a ring, survive a
// kill -9, take the node back, and split and merge across a partition.
func TestRealCorosyncRing(t *testing.T) {
	needCorosync(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	procs := make([]*harness.Proc, 3)
	for i, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("node %d %s log:\n%s", p.Node.Index+1, p.Name, p.Output())
			}
		}
	})
	d := waitNodes(t, 3, 30*time.Second, c.Nodes...)
	t.Logf("3-node ring formed in %v", d)

	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	d = waitNodes(t, 2, 30*time.Second, c.Nodes[0], c.Nodes[1])
	t.Logf("kill -9 → 2-node ring in %v", d)

	p, err := c.Nodes[2].Start("corosync", "corosync", "-f")
	if err != nil {
		t.Fatal(err)
	}
	procs[2] = p
	d = waitNodes(t, 3, 30*time.Second, c.Nodes...)
	t.Logf("restart → 3-node ring in %v", d)

	if err := c.Partition([]int{2}); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, 2, 30*time.Second, c.Nodes[0], c.Nodes[1])
	waitNodes(t, 1, 30*time.Second, c.Nodes[2])
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	d = waitNodes(t, 3, 30*time.Second, c.Nodes...)
	t.Logf("heal → 3-node ring in %v", d)
}
