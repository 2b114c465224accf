package srp

import (
	"fmt"
	"slices"
	"strings"
)

// This file holds the way out of GATHER: the commit token's two
// rotations (COMMIT), RECOVERY with its old-ring rebroadcast, and the
// installation of the new ring with EVS delivery (spec §6.5–6.6).

func (n *Node) commitCreate() {
	n.debugf("Creating commit token because I am the rep.")
	members := sortedCopy(subtract(n.proc, n.failed))
	n.commit = commitToken{
		hdr:     header{nodeID: n.self},
		ring:    RingID{Rep: n.self, Seq: n.tokenRingIDSeq + 4},
		addrs:   members,
		entries: make([]commitEntry, len(members)),
	}
}

func (n *Node) commitEnter() {
	n.oldRingStateSave()
	n.commitTokenUpdate()
	c := &n.commit
	n.target = c.addrs[int(c.membIndex)%len(c.addrs)]
	n.tm.stop(timerJoin)
	n.tm.stop(timerConsensus)
	n.ring = c.ring
	n.out.PersistRingSeq = n.ring.Seq
	n.tokenRingIDSeq = n.ring.Seq
	n.debugf("entering COMMIT state.")
	n.state = Commit
	n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
	n.resetTokenTimeout()
	n.counters.CommitEntered++
	n.trc, n.pbl, n.cbl = 0, 0, 0
	n.sendCommit(c)
}

// commitTokenUpdate fills our entry and clears received flags of entries
// from our old ring that are behind the highest aru seen so far.
func (n *Node) commitTokenUpdate() {
	c := &n.commit
	n.newMemb = slices.Clone(c.addrs)
	i := c.membIndex
	e := &c.entries[i]
	e.ring = n.oldRing
	e.aru = n.oldAru
	n.receivedFlg = n.myAru == n.highSeqReceived
	e.receivedFlg = b2u(n.receivedFlg)
	e.highDelivered = n.highDelivered
	high := e.aru
	for k := uint32(0); k <= i; k++ {
		if c.entries[k].ring == e.ring && seqLT(high, c.entries[k].aru) {
			high = c.entries[k].aru
		}
	}
	for k := uint32(0); k <= i; k++ {
		if c.entries[k].ring == e.ring && seqLT(c.entries[k].aru, high) {
			c.entries[k].receivedFlg = 0
			if k == i {
				n.receivedFlg = false
			}
		}
	}
	c.hdr.nodeID = n.self
	c.membIndex++
}

// sendCommit sends a commit token to the successor and keeps it for
// retransmission.
func (n *Node) sendCommit(c *commitToken) {
	c.tokenSeq++
	c.hdr.nodeID = n.self
	frame := c.appendTo(make([]byte, 0, commitSize+len(c.addrs)*(4+commitEntrySize)))
	n.lastToken = frame
	n.counters.MembCommitTokenTx++
	n.emit(n.target, frame)
	n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
}

func (n *Node) handleCommit(c *commitToken) {
	switch n.state {
	case Gather:
		if c.membIndex < uint32(len(c.addrs)) && setEqual(c.addrs, subtract(n.proc, n.failed)) && c.ring.Seq > n.ring.Seq {
			n.commit = *c
			n.commitEnter()
		}
	case Commit:
		if c.ring.Seq == n.ring.Seq && c.membIndex == uint32(len(c.addrs)) && len(c.addrs) == len(n.newMemb) {
			n.recoveryEnter(c)
		}
	case Recovery:
		if n.ring.Rep == n.self && !n.originatedToken {
			n.originatedToken = true
			n.debugf("Sending initial ORF token")
			n.sendInitialToken()
			n.resetTokenTimeout()
			n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
		}
	}
}

// recoveryEnter starts RECOVERY: forwards the commit token on its second
// lap, computes the transitional membership and queues the old-ring
// messages some transitional member may lack, encapsulated.
func (n *Node) recoveryEnter(c *commitToken) {
	n.debugf("entering RECOVERY state.")
	n.tokenDiscard = false
	n.highRingDelivered = 0
	n.recovery.reinit()
	n.retransQ.reset()
	lowRingAru := n.oldHighSeq
	n.sendCommit(c)
	n.tokenSeq = tokenSeqNone

	n.trans = n.trans[:0]
	for _, m := range n.memb {
		if i := slices.Index(n.newMemb, m); i >= 0 && c.entries[i].ring == n.oldRing {
			n.trans = append(n.trans, m)
		}
	}
	if n.log.IsDebug() {
		for i, a := range c.addrs {
			e := c.entries[i]
			n.debugf("position [%d] member %d: previous ringid (%x.%x) aru %x high delivered %x received flag %d",
				i, a, e.ring.Rep, e.ring.Seq, e.aru, e.highDelivered, e.receivedFlg)
		}
	}
	originate := false
	for i, a := range c.addrs {
		if slices.Contains(n.trans, a) && c.entries[i].receivedFlg == 0 {
			n.deliverMemb = slices.Clone(n.trans)
			originate = true
			break
		}
	}
	originated := 0
	if originate {
		// highAru and keeper: the highest old-ring aru among the
		// deliver-members and the lowest of them that has it.
		var highAru uint32
		var keeper NodeID
		for i, a := range c.addrs {
			e := c.entries[i]
			if slices.Contains(n.deliverMemb, a) && e.ring == n.oldRing {
				if seqLT(e.aru, lowRingAru) {
					lowRingAru = e.aru
				}
				if seqLT(n.highRingDelivered, e.highDelivered) {
					n.highRingDelivered = e.highDelivered
				}
				if keeper == 0 || seqLT(highAru, e.aru) || (e.aru == highAru && a < keeper) {
					highAru, keeper = e.aru, a
				}
			}
		}
		// Deviation, wire-compatible: corosync has every member resend
		// every old-ring message it holds above low_ring_aru, so recovery
		// carries each message once per member (thousands of frames on
		// big rings, at window_size per rotation). Messages up to highAru
		// are all held by the keeper, so only the keeper resends those;
		// everyone still resends what it holds above highAru. The union
		// delivered is the same.
		skipTo := lowRingAru
		if keeper != n.self {
			skipTo = highAru
		}
		span := n.oldHighSeq - lowRingAru
		if span >= sortQueueSize {
			span = 0 // cannot be: the window never holds more
		}
		if span > 0 && !n.cfg.Faults.SkipOldRingFlush {
			n.debugf("copying all old ring messages from %x-%x.", lowRingAru+1, n.oldHighSeq)
			for i := uint32(1); i <= span; i++ {
				if seqLTE(lowRingAru+i, skipTo) {
					continue
				}
				old := n.regular.get(lowRingAru + i)
				if old == nil {
					continue
				}
				f := make([]byte, 0, mcastHeaderSize+len(old))
				f = appendMcastHeader(f, &mcastHeader{hdr: header{encap: encapRecovery, nodeID: n.self}, from: n.self, ring: n.ring})
				f = append(f, old...)
				if n.retransQ.push(f) {
					originated++
				}
			}
		}
	}
	if originated > 0 {
		n.debugf("Originated %d messages in RECOVERY.", originated)
	} else {
		n.debugf("Did not need to originate any messages in recovery.")
	}
	n.myAru = 0
	n.aruCount = 0
	n.seqUnchanged = 0
	n.highSeqReceived = 0
	n.installSeq = 0
	n.lastReleased = 0
	// Deviation: corosync leaves these two counters as an aborted recovery
	// left them, so the next recovery can end at its first token visit,
	// before the recovery messages went round; this node then sends new
	// messages that the members still recovering can never accept, and
	// the ring stays in RECOVERY for good. Every recovery starts afresh.
	n.retransFlgCount = 0
	n.rotationCounter = 0
	n.resetTokenTimeout()
	n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
	n.state = Recovery
	n.counters.RecoveryEntered++
}

// operationalEnter installs the new ring and delivers, in this order: the
// gap-free old-ring messages, the transitional configuration, the
// remaining old-ring messages from deliver-members, the regular
// configuration.
func (n *Node) operationalEnter() {
	n.originatedToken = false
	n.consensus = n.consensus[:0]
	n.oldSaved = false
	n.recoveryToRegular()

	aruSave := n.myAru
	n.myAru = n.oldAru
	n.deliverMessages(false, n.oldHighSeq)

	if err := n.checkInstall(); err != nil {
		n.breakDown(err)
		return
	}
	left := subtract(n.memb, n.trans)
	joined := subtract(n.newMemb, n.trans)
	n.memb = slices.Clone(n.newMemb)
	n.lastReleased = 0
	n.setRetransFlg = false

	n.deliverConf(Transitional, n.trans, left, nil)
	if n.cfg.ManualTransAck {
		n.waitingTransAck = true
	}
	n.deliverMessages(true, n.oldHighSeq)
	n.myAru = aruSave
	n.deliverConf(Regular, n.newMemb, nil, joined)

	// The recovery queue becomes the regular one; the old one is emptied.
	n.regular, n.recovery = n.recovery, n.regular
	n.recovery.reinit()
	n.regularRing = n.ring
	n.lastAru = 0
	n.proc = append(n.proc[:0], n.newMemb...)
	n.failed = n.failed[:0]

	// Recovery-phase seqs were only containers: skip them.
	i := n.highSeqReceived
	for i != 0 && !n.regular.inuse(i) {
		i--
	}
	n.highDelivered = i
	n.regular.release(i)
	n.lastReleased = i

	if n.log.IsInfo() {
		var b strings.Builder
		if len(joined) > 0 {
			b.WriteString(" joined:")
			for _, id := range joined {
				fmt.Fprintf(&b, " %d", id)
			}
		}
		var failed strings.Builder
		if len(left) > 0 {
			b.WriteString(" left:")
			for _, id := range left {
				fmt.Fprintf(&b, " %d", id)
				if !slices.Contains(n.leaves, id) {
					fmt.Fprintf(&failed, " %d", id)
				}
			}
		}
		n.debugf("entering OPERATIONAL state.")
		n.infof("A new membership (%x.%x) was formed. Members%s", n.ring.Rep, n.ring.Seq, b.String())
		if failed.Len() > 0 {
			n.infof("Failed to receive the leave message. failed:%s", failed.String())
		}
	}
	n.leaves = n.leaves[:0]
	n.state = Operational
	n.settleVisits = 0
	n.counters.OperationalEntered++
	n.receivedFlg = true
	n.resetPauseTimeout()
	n.oldRing = n.ring
}

// recoveryToRegular moves the old-ring frames carried by encapsulated
// recovery messages into the regular (old-ring) sort queue.
func (n *Node) recoveryToRegular() {
	for s := uint32(1); s <= n.myAru && s < sortQueueSize; s++ {
		f := n.recovery.get(s)
		if f == nil {
			continue
		}
		h, _, err := decodeHeader(f)
		if err != nil || h.encap != encapRecovery {
			continue
		}
		inner := f[mcastHeaderSize:]
		ih, bo, err := decodeHeader(inner)
		if err != nil || ih.typ != typeMcast {
			continue
		}
		m, err := decodeMcast(inner, ih, bo)
		if err != nil || m.ring != n.oldRing {
			continue
		}
		if n.regular.inRange(m.seq) && !n.regular.inuse(m.seq) {
			n.regular.add(m.seq, inner)
			if seqLT(n.oldHighSeq, m.seq) {
				n.oldHighSeq = m.seq
			}
		}
	}
}

func (n *Node) deliverConf(t ConfType, members, left, joined []NodeID) {
	c := &ConfChange{Type: t, Ring: n.ring, Members: sortedCopy(members)}
	if len(left) > 0 {
		c.Left = sortedCopy(left)
	}
	if len(joined) > 0 {
		c.Joined = sortedCopy(joined)
	}
	n.out.Deliveries = append(grow(n.out.Deliveries), Delivery{Conf: c})
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
