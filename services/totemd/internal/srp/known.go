package srp

import "fmt"

// Only configured processors take part: corosync 3.x needs every peer in
// the nodelist on udp/udpu (the token is routed by nodeid), so an id that
// is not configured can only come from a corrupt or forged datagram.
// Letting such ids into the proc list would make every node gather for
// processors that will never answer — a flood of random datagrams wedged
// rings in GATHER that way — so frames naming one are dropped whole.

// checkKnown reports the first processor id in d that is not configured.
func (n *Node) checkKnown(d *decoded) error {
	ids := n.idScratch[:0]
	switch d.hdr.typ {
	case typeOrfToken:
		t := &d.token
		ids = append(ids, d.hdr.nodeID, t.ring.Rep)
		if t.aruAddr != 0 {
			ids = append(ids, t.aruAddr)
		}
		for _, r := range t.rtr {
			ids = append(ids, r.ring.Rep)
		}
	case typeMcast:
		ids = append(ids, d.hdr.nodeID, d.mcast.from, d.mcast.ring.Rep)
	case typeMergeDetect:
		ids = append(ids, d.hdr.nodeID, d.merge.from, d.merge.ring.Rep)
	case typeJoin:
		// A leave carries header nodeid 0 and the leaver in system_from.
		if d.hdr.nodeID != 0 {
			ids = append(ids, d.hdr.nodeID)
		}
		ids = append(ids, d.join.from)
		ids = append(ids, d.join.proc...)
		ids = append(ids, d.join.failed...)
	case typeCommitToken:
		c := &d.commit
		ids = append(ids, d.hdr.nodeID, c.ring.Rep)
		ids = append(ids, c.addrs...)
		for _, e := range c.entries {
			if e.ring.Rep != 0 { // unfilled entries are all zero
				ids = append(ids, e.ring.Rep)
			}
		}
	case typeHoldCancel:
		ids = append(ids, d.hdr.nodeID, d.cancel.ring.Rep)
	}
	n.idScratch = ids
	for _, id := range ids {
		if !n.known[id] {
			return fmt.Errorf("%s names processor %d, which is not in the nodelist", d.hdr.typ, id)
		}
	}
	return nil
}
