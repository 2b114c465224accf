package vq

import (
	"slices"
	"testing"
)

// TestLastRecalc: the record is taken where votequorum logs it — the
// totals before expected votes are raised to the total, the node table
// (list order, dead nodes too) after — and a restored core has none until
// it recalculates.
func TestLastRecalc(t *testing.T) {
	cfg := Config{Nodelist: []NodelistEntry{{NodeID: 1, Votes: 2}, {NodeID: 2, Votes: 1}, {NodeID: 3, Votes: 1}}, ExpectedVotes: 1}
	cl := newCluster(t, cfg, 1, 2, 3)
	rc := cl.cores[1].LastRecalc()
	if rc == nil || rc.TotalVotes != 2 || rc.ExpectedVotes != 1 ||
		!slices.Equal(rc.Nodes, []RecalcNode{{ID: 1, State: Member, Votes: 2, Expected: 2}}) {
		t.Fatalf("after New: %v; want total 2, expected 1 before the raise, node 1 raised to 2", rc)
	}
	cl.ring(1, 2, 3)
	cl.ring(1, 2)
	rc = cl.cores[1].LastRecalc()
	in := info(t, cl.cores[1])
	if rc.TotalVotes != in.TotalVotes || len(rc.Nodes) != 3 || rc.Nodes[len(rc.Nodes)-1].ID != 1 {
		t.Fatalf("after 3 then 1|2: %v, info total %d", rc, in.TotalVotes)
	}
	if i := slices.IndexFunc(rc.Nodes, func(n RecalcNode) bool { return n.ID == 3 }); i < 0 || rc.Nodes[i].State != Dead {
		t.Fatalf("node 3 not recorded dead: %v", rc)
	}
	cl.cores[1].ForgetSent() // the harness never delivers the last round's own NODEINFO back
	snap, err := cl.cores[1].Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	own := cfg
	own.NodeID = 1
	c, err := Restore(own, snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.LastRecalc(); r != nil {
		t.Fatalf("restored core has a recalculation: %v", r)
	}
	// the caller's copy is its own
	rc.Nodes[0].Votes = 99
	if again := cl.cores[1].LastRecalc(); again.Nodes[0].Votes == 99 {
		t.Fatal("LastRecalc shares its node list")
	}
}
