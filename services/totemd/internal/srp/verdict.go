package srp

import "slices"

// Failed-list verdicts and their expiry.
//
// Deviation from corosync, never on the wire: a processor's entry in our
// failed list is a verdict on the processor as it was when we made it,
// in the ring it last claimed (the ring_seq of its joins, the ring of
// its merge detects). Corosync keeps the verdict until we install a ring.
// But groups that failed each other on consensus timeouts that fired at
// different moments then stay out of phase forever: each group forms its
// ring while the other still gathers with the first group in its failed
// list, and the second group's ring forms just as the first one gathers
// again, so the merges never line up (the simulator found this with two
// halves of a 59-node ring and with four groups of an 8-node ring, long
// after every fault had healed). A processor that has since moved to a
// newer ring and proposes a membership that does not exclude us has come
// out of the round the verdict belonged to, so the verdict is dropped.
// A join's ring_seq alone is no proof of that: a node takes the new seq
// when it enters COMMIT, and a commit that aborts would otherwise drop
// verdicts all over a big ring at every try (a join storm). So the seq
// must be one we have seen a ring operate in: the ring of a merge detect
// (only an operational representative sends one), of a regular message,
// or of our own installed ring;
// for the same reason another processor's verdict on it is not adopted
// while that move is recent.

// noteRing records the ring a processor claims to be in.
func (n *Node) noteRing(p NodeID, seq uint64) {
	if seq > n.seenSeq[p] {
		n.seenSeq[p] = seq
		n.seenSeqAt[p] = n.now
	}
}

// fail adds processors to the failed list, each with the ring it was last
// seen in.
func (n *Node) fail(ps ...NodeID) {
	for _, p := range ps {
		if slices.Contains(n.failed, p) {
			continue
		}
		n.failed = append(n.failed, p)
		n.failedSeq[p] = n.seenSeq[p]
	}
}

// installedRingsKept bounds the memory of rings seen operating; verdicts
// are younger than a few rings.
const installedRingsKept = 64

// noteInstalled records a ring seq seen operating.
func (n *Node) noteInstalled(seq uint64) {
	if slices.Contains(n.installed, seq) {
		return
	}
	if len(n.installed) == installedRingsKept {
		n.installed = append(n.installed[:0], n.installed[1:]...)
	}
	n.installed = append(n.installed, seq)
}

// unfail drops the verdict on p when p now claims a newer ring than it
// was failed in, one seen operating, and does not name us failed. It
// reports whether it did.
func (n *Node) unfail(p NodeID, seq uint64, namesUs bool) bool {
	if p == n.self || namesUs || !slices.Contains(n.failed, p) || seq <= n.failedSeq[p] || !slices.Contains(n.installed, seq) {
		return false
	}
	n.failed = slices.DeleteFunc(n.failed, func(q NodeID) bool { return q == p })
	n.debugf("processor %d moved to ring seq %x since it was failed; dropping the verdict", p, seq)
	return true
}

// movedRecently: p moved to a newer ring less than a consensus period ago,
// so another processor's verdict on p is probably about the old one.
func (n *Node) movedRecently(p NodeID) bool {
	at, ok := n.seenSeqAt[p]
	return ok && n.now-at < n.cfg.Consensus
}
