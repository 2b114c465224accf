package cpg

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
)

// serviceRound runs a per-service round (a cpgd attached or detached on
// some needle node) on the needle cores parts only: a corosync member
// never sees such a round and sends nothing in it. The round's sync
// messages reach parts only.
func (cl *cluster) serviceRound(parts, members, trans []uint32) {
	cl.round++
	r := Round{ID: cl.round, Ring: ring.ID{Rep: members[0], Seq: cl.seq}, Members: members, Trans: trans, Service: true}
	for _, id := range parts {
		cl.cores[id].ConfChg(ring.Regular)
		cl.cores[id].SyncInit(r)
	}
	for _, id := range parts {
		if !cl.cores[id].SyncProcess(r) {
			cl.t.Fatal("SyncProcess not done")
		}
	}
	cl.flush(parts...)
	for _, id := range parts {
		cl.cores[id].SyncActivate(r)
	}
	cl.flush(parts...)
}

// In a mixed ring of corosync node 1 and needle nodes 2 and 3, node 3's
// cpgd goes away: node 2 runs a per-service round with the service's
// members 1 and 2. Node 3's process leaves (NODEDOWN); corosync node 1
// sent no JOINLIST because it never takes part in such rounds, so its
// process is no zombie and stays, and its messages keep being delivered.
// (Before, node 2 dropped it with PROCDOWN and ignored its messages until
// the next full round: cpgload lost messages across a needle cpgd restart
// in TestCpgMixedRingOneCorosync.)
func TestServiceRoundKeepsProcessesOfNodesOutsideIt(t *testing.T) {
	cl := newCluster(t, 1, 2, 3)
	all := []uint32{1, 2, 3}
	cl.sync(all, nil)
	for _, id := range all {
		c := cl.cores[id]
		if err := c.Connect(1); err != nil {
			t.Fatal(err)
		}
		must(t, c.Join(1, "grp", id*10, 0), cs.OK)
	}
	cl.flush(all...)
	for _, id := range all {
		cl.take(id)
	}

	cl.serviceRound([]uint32{2}, []uint32{1, 2}, []uint32{1, 2})
	expect(t, "node 3's cpgd gone, at node 2", cl.take(2),
		`c1 confchg "grp" members=[1/10 2/20] left=[3/30:3] joined=[]`,
		`c1 totem 1.4 [1 2]`)
	if got := addrList(cl.cores[2].MembershipGet("grp")); got != "[1/10 2/20]" {
		t.Errorf("membership at node 2: %s", got)
	}
	must(t, cl.cores[1].Mcast(1, []byte("from corosync")), cs.OK)
	cl.flush(1, 2)
	expect(t, "node 1's message at node 2", cl.take(2), `c1 deliver "grp" from 1/10 "from corosync"`)

}
