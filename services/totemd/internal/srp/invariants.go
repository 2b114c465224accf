package srp

import (
	"errors"
	"fmt"
	"slices"
)

// Invariants of the processor's own state, asserted after every event that
// can change it (Start, Receive, Tick, Reform) and at every ring
// installation. They are facts the code above keeps by construction, so a
// broken one means this node's state is wrong, not that a peer sent
// something odd: input is never asserted on (a forged or buggy frame must
// not make a node leave the ring), only what the node derived from it.
//
// A broken invariant is not a panic. The node discards the deliveries the
// event produced (they came from a state known to be wrong), multicasts
// the leave message so the others re-form at once without waiting out the
// token, ignores every further event, and reports the error in
// Ready.Broken and Status.Broken. The driver logs it with its context and
// stops; the simulator reports it as a violation with the seed that
// replays it.

// ErrInvariant is wrapped by every error in Ready.Broken.
var ErrInvariant = errors.New("srp: broken invariant")

// verify checks the per-event invariants (each O(1)) and breaks the node
// down on the first that does not hold.
func (n *Node) verify() {
	if n.broken != nil || n.stopped || !n.started {
		return
	}
	if err := n.checkState(); err != nil {
		n.breakDown(err)
	}
}

// checkState is the per-event invariants.
func (n *Node) checkState() error {
	// my_aru only ever advances over messages received in order, so it
	// never passes the highest seq received (recovery and restore set
	// both together).
	if seqLT(n.highSeqReceived, n.myAru) {
		return fmt.Errorf("my_aru %x is above high_seq_received %x", n.myAru, n.highSeqReceived)
	}
	if n.state != Operational {
		return nil
	}
	// Delivery follows reception, and release follows delivery: a frame is
	// freed only once delivered here (messagesFree), and the regular queue's
	// window starts right after the last frame released.
	if seqLT(n.highSeqReceived, n.highDelivered) {
		return fmt.Errorf("delivered up to %x, beyond high_seq_received %x", n.highDelivered, n.highSeqReceived)
	}
	if seqLT(n.highDelivered, n.lastReleased) {
		return fmt.Errorf("released up to %x, beyond the delivered %x", n.lastReleased, n.highDelivered)
	}
	if n.regular.headSeq != n.lastReleased+1 {
		return fmt.Errorf("regular queue starts at %x, last released %x", n.regular.headSeq, n.lastReleased)
	}
	if n.regularRing != n.ring {
		return fmt.Errorf("regular queue holds ring %x.%x, operational on %x.%x", n.regularRing.Rep, n.regularRing.Seq, n.ring.Rep, n.ring.Seq)
	}
	return nil
}

// checkInstall is the invariants of a ring being installed (operationalEnter,
// before the configurations are delivered): O(members).
func (n *Node) checkInstall() error {
	if !slices.Contains(n.newMemb, n.self) {
		return fmt.Errorf("installing ring %x.%x without this node: members %v", n.ring.Rep, n.ring.Seq, n.newMemb)
	}
	if !slices.Contains(n.newMemb, n.ring.Rep) {
		return fmt.Errorf("installing ring %x.%x whose representative is not a member: %v", n.ring.Rep, n.ring.Seq, n.newMemb)
	}
	if s := sortedCopy(n.newMemb); len(slices.Compact(s)) != len(n.newMemb) {
		return fmt.Errorf("installing ring %x.%x with a member listed twice: %v", n.ring.Rep, n.ring.Seq, n.newMemb)
	}
	if n.ring.Seq <= n.oldRing.Seq {
		return fmt.Errorf("installing ring %x.%x after ring %x.%x: ring seqs only grow", n.ring.Rep, n.ring.Seq, n.oldRing.Rep, n.oldRing.Seq)
	}
	// The transitional configuration is old ∩ new, and this node is in
	// both once it has been on a ring (before its first, its old
	// membership is empty).
	if len(n.memb) > 0 && !slices.Contains(n.trans, n.self) {
		return fmt.Errorf("transitional configuration %v of ring %x.%x lacks this node", n.trans, n.ring.Rep, n.ring.Seq)
	}
	for _, id := range n.trans {
		if !slices.Contains(n.newMemb, id) || !slices.Contains(n.memb, id) {
			return fmt.Errorf("transitional member %d of ring %x.%x is not in both the old ring %v and the new %v", id, n.ring.Rep, n.ring.Seq, n.memb, n.newMemb)
		}
	}
	return nil
}

// breakDown takes the node out of the ring after a broken invariant: no
// delivery of this event is handed out, the leave goes out, and nothing
// is done any more.
func (n *Node) breakDown(err error) {
	n.broken = fmt.Errorf("%w in state %s on ring %x.%x: %v", ErrInvariant, n.state.name(), n.ring.Rep, n.ring.Seq, err)
	n.log.Error("leaving the ring: this node's protocol state is inconsistent", "error", n.broken)
	clear(n.out.Deliveries)
	n.out.Deliveries = n.out.Deliveries[:0]
	n.Leave(n.now)
}

// name is the state as corosync's log lines name it.
func (s State) name() string {
	switch s {
	case Operational:
		return "OPERATIONAL"
	case Gather:
		return "GATHER"
	case Commit:
		return "COMMIT"
	case Recovery:
		return "RECOVERY"
	}
	return fmt.Sprintf("state %d", uint8(s))
}
