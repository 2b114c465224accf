package srp

import (
	"fmt"
	"slices"
	"time"
)

// Tunables are the settings corosync 3.1.7 re-reads on a running ring
// (totem_volatile_config_read, after a reload or a cmap write of a
// totem.* key). Each takes effect where corosync's does: a timer the next
// time it is armed, the flow-control limits at the next token. The
// heartbeat period stays as computed at start-up, as in corosync.
type Tunables struct {
	Token, TokenWarning, TokenRetransmit, Hold, Join, SendJoin time.Duration
	Consensus, Merge, Downcheck, MaxNetworkDelay               time.Duration
	FailRecvConst, SeqnoUnchangedConst, MissCountConst         uint32
	WindowSize, MaxMessages                                    uint32
	CancelHoldOnRetransmit                                     bool
}

// Tunables returns the settings in force.
func (n *Node) Tunables() Tunables {
	c := n.cfg
	return Tunables{Token: c.Token, TokenWarning: c.TokenWarning, TokenRetransmit: c.TokenRetransmit, Hold: c.Hold,
		Join: c.Join, SendJoin: c.SendJoin, Consensus: c.Consensus, Merge: c.Merge, Downcheck: c.Downcheck,
		MaxNetworkDelay: c.MaxNetworkDelay, FailRecvConst: c.FailRecvConst, SeqnoUnchangedConst: c.SeqnoUnchangedConst,
		MissCountConst: c.MissCountConst, WindowSize: c.WindowSize, MaxMessages: c.MaxMessages,
		CancelHoldOnRetransmit: c.CancelHoldOnRetransmit}
}

// SetTunables puts t in force. Zero values take the defaults New gives
// them; a set that New would refuse is refused whole and nothing changes.
func (n *Node) SetTunables(t Tunables) error {
	c := n.cfg
	c.Token, c.TokenWarning, c.TokenRetransmit, c.Hold, c.Join, c.SendJoin = t.Token, t.TokenWarning, t.TokenRetransmit, t.Hold, t.Join, t.SendJoin
	c.Consensus, c.Merge, c.Downcheck, c.MaxNetworkDelay = t.Consensus, t.Merge, t.Downcheck, t.MaxNetworkDelay
	c.FailRecvConst, c.SeqnoUnchangedConst, c.MissCountConst = t.FailRecvConst, t.SeqnoUnchangedConst, t.MissCountConst
	c.WindowSize, c.MaxMessages, c.CancelHoldOnRetransmit = t.WindowSize, t.MaxMessages, t.CancelHoldOnRetransmit
	c, err := withDefaults(c)
	if err != nil {
		return fmt.Errorf("srp: new settings: %w", err)
	}
	if c.TokenWarning < 0 {
		return fmt.Errorf("srp: new settings: TokenWarning is negative (%v)", c.TokenWarning)
	}
	n.cfg = c
	n.log.Debug(fmt.Sprintf("Token Timeout (%d ms) retransmit timeout (%d ms)", c.Token.Milliseconds(), c.TokenRetransmit.Milliseconds()))
	return nil
}

// SetNodes replaces the configured nodelist (a reload that adds or
// removes nodes). This node must stay in it. The ring's membership is not
// touched: an added node joins when it starts; a removed node that is
// still a member stays known until it is gone from the ring (its frames
// keep the ring going until then: the admin stops it, or it fails).
func (n *Node) SetNodes(nodes []NodeID) error {
	if !slices.Contains(nodes, n.self) {
		return fmt.Errorf("srp: new nodelist %v lacks this node %d", nodes, n.self)
	}
	if slices.Contains(nodes, 0) {
		return fmt.Errorf("srp: new nodelist %v contains the reserved nodeid 0", nodes)
	}
	n.cfg.Nodes = slices.Clone(nodes)
	n.known = make(map[NodeID]bool, len(nodes))
	for _, id := range slices.Concat(nodes, n.memb, n.newMemb) {
		n.known[id] = true
	}
	return nil
}
