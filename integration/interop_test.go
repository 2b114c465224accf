package integration

import (
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestInteropMixedRing puts one needle totemd (node 3) in a ring with two
// Debian corosync 3.1.7 nodes (udpu, no crypto): the ring forms, the real
// nodes' corosync-quorumtool lists three nodes, and the ring survives
// killing and restarting either kind.
func TestInteropMixedRing(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	startReal := func(i int) *harness.Proc {
		p, err := c.Nodes[i].Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	procs = append(procs, startReal(0), startReal(1), startTotemd(t, c.Nodes[2]))
	real := []*harness.Node{c.Nodes[0], c.Nodes[1]}

	d := waitNodes(t, 3, 30*time.Second, real...)
	waitRing(t, "1 2 3", 10*time.Second, procs[2])
	t.Logf("mixed ring of 3 formed in %v", d)

	// kill -9 the needle node: the real nodes go on as two.
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, 2, 30*time.Second, real...)
	procs[2] = startTotemd(t, c.Nodes[2])
	waitNodes(t, 3, 30*time.Second, real...)
	waitRing(t, "1 2 3", 10*time.Second, procs[2])

	// kill -9 a real node: needle and the other real node go on as two.
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, 2, 30*time.Second, c.Nodes[1])
	waitRing(t, "2 3", 10*time.Second, procs[2])
	procs[0] = startReal(0)
	waitNodes(t, 3, 30*time.Second, real...)
	waitRing(t, "1 2 3", 10*time.Second, procs[2])
}
