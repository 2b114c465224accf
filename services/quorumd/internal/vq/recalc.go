package vq

import (
	"fmt"
	"slices"
	"strings"
)

// Recalc is what one quorum recalculation worked from: the numbers
// corosync 3.1.7's recalculate_quorum and calculate_quorum log at debug
// level ("total_votes=T, expected_votes=E", then "node N state=S,
// votes=V, expected=X" for every record of the node table, and "node 0
// state=1, votes=V" for a quorum device casting its vote). The
// differential test reads those lines from corosync's own votequorum
// (vqsimtest) and compares them with this, after every step, for every
// node: the votes and expected votes each node holds of itself and of
// every other node, where the quorum decision was taken.
type Recalc struct {
	// TotalVotes: the members' votes and the device's.
	TotalVotes uint32
	// ExpectedVotes: this node's expected votes as the recalculation
	// found them, before it raised them to TotalVotes.
	ExpectedVotes uint32
	// Nodes: the node table in list order as the quorum was computed
	// from it (after that raise), then the device's record (ID 0, state
	// Member, Expected 0) when it casts a vote.
	Nodes []RecalcNode
}

// RecalcNode is one record of Recalc.Nodes.
type RecalcNode struct {
	ID       uint32
	State    State
	Votes    uint32
	Expected uint32
}

// Equal reports whether r and o are the same record.
func (r Recalc) Equal(o Recalc) bool {
	return r.TotalVotes == o.TotalVotes && r.ExpectedVotes == o.ExpectedVotes && slices.Equal(r.Nodes, o.Nodes)
}

func (r Recalc) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "total_votes=%d expected_votes=%d [", r.TotalVotes, r.ExpectedVotes)
	for i, n := range r.Nodes {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:s%d/v%d/e%d", n.ID, n.State, n.Votes, n.Expected)
	}
	b.WriteByte(']')
	return b.String()
}

// LastRecalc returns a copy of the core's last recalculation, nil if it
// made none. A core restored from a snapshot has none until it
// recalculates (the record is what a recalculation saw, not state the
// successor needs).
func (c *Core) LastRecalc() *Recalc {
	if c.recalc == nil {
		return nil
	}
	r := *c.recalc
	r.Nodes = slices.Clone(r.Nodes)
	return &r
}

// noteRecalc starts the record of a recalculation (recalculate's totals,
// before the raise); noteRecalcNodes completes it with the node table the
// quorum is then computed from.
func (c *Core) noteRecalc(total uint32) {
	c.recalc = &Recalc{TotalVotes: total, ExpectedVotes: c.us.expected, Nodes: make([]RecalcNode, 0, len(c.list)+1)}
}

func (c *Core) noteRecalcNodes() {
	for _, n := range c.list {
		c.recalc.Nodes = append(c.recalc.Nodes, RecalcNode{ID: n.id, State: n.state, Votes: n.votes, Expected: n.expected})
	}
	if c.us.flags&FlagQdeviceCastVote != 0 {
		c.recalc.Nodes = append(c.recalc.Nodes, RecalcNode{ID: 0, State: Member, Votes: c.qdev.votes})
	}
}
