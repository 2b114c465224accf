package srp

import (
	"fmt"
	"slices"
	"strings"
)

// handleToken is the ORF token handler (spec §7).
func (n *Node) handleToken(t *orfToken) {
	if n.tokenDiscard {
		return
	}
	if t.seq == n.lastSeq {
		if !n.tm.running(timerMerge) {
			n.tm.start(timerMerge, n.now+n.cfg.Merge)
		}
		n.seqUnchanged++
	} else {
		n.tm.stop(timerMerge)
		n.tm.stop(timerHold)
		n.seqUnchanged = 0
	}
	n.lastSeq = t.seq

	rep := n.ring.Rep == n.self
	n.tokenHeld = (rep && n.seqUnchanged > n.cfg.SeqnoUnchangedConst) ||
		(!rep && n.seqUnchanged >= n.cfg.SeqnoUnchangedConst)
	forward := !(rep && n.tokenHeld)

	if n.state != Commit {
		if t.ring != n.ring {
			n.heartbeat(forward)
			return
		}
		if seqLTE(t.tokenSeq, n.tokenSeq) {
			return // a retransmitted duplicate
		}
		// Deviation: corosync frees before the two checks above. A
		// duplicate of an older token (retransmitted, or duplicated by
		// the network) then pairs its stale aru — possibly raised by its
		// aru_addr before a lagging member lowered it again — with
		// my_last_aru from that same token's first arrival, and frees
		// messages a member still lacks: recovery can no longer supply
		// them (an EVS violation; in corosync the laggard ends up
		// "FAILED TO RECEIVE"). Only tokens accepted in order free here.
		if n.state == Operational {
			n.messagesFree(t.aru)
		}
		n.inToken = true
		n.processToken(t, &forward)
		n.inToken = false
	}
	n.heartbeat(forward)
}

func (n *Node) heartbeat(forward bool) {
	if forward && n.heartbeatTimeout > 0 {
		n.tm.start(timerHeartbeat, n.now+n.heartbeatTimeout)
	} else {
		n.tm.stop(timerHeartbeat)
	}
}

// processToken runs steps 8–22 of spec §7 on a token for our ring.
func (n *Node) processToken(t *orfToken, forward *bool) {
	if n.state == Operational {
		n.settleVisits++
	}
	if n.cfg.OnTokenReceived != nil {
		n.cfg.OnTokenReceived()
	}
	lastAru := n.lastAru
	n.lastAru = t.aru

	allowed := n.fccCalculate(t)
	retransmitted := n.tokenRtr(t, &allowed)
	if n.cfg.CancelHoldOnRetransmit && n.tokenHeld && (len(t.rtr) > 0 || retransmitted > 0) {
		n.tokenHeld = false
		*forward = true
	}
	n.fccRtrLimit(t, &allowed)
	sent := n.tokenMcast(t, allowed)
	n.fccTokenUpdate(t, retransmitted+sent)

	if seqLT(n.myAru, t.aru) || t.aruAddr == n.self || t.aruAddr == 0 {
		t.aru = n.myAru
		if t.aru == t.seq {
			t.aruAddr = 0
		} else {
			t.aruAddr = n.self
		}
	}
	if t.aru == lastAru && t.aruAddr != 0 {
		n.aruCount++
	} else {
		n.aruCount = 0
	}
	if n.aruCount > n.cfg.FailRecvConst && t.aruAddr == n.self {
		n.log.Error("FAILED TO RECEIVE")
		n.failedToRecv = true
		n.failed = addNode(n.failed, n.self)
		n.gatherEnter(gsFailedToReceive)
		return
	}
	n.tokenSeq = t.tokenSeq
	t.tokenSeq++
	if n.cfg.Faults.BreakAru && n.state == Operational && n.settleVisits == 1 {
		n.myAru = n.highSeqReceived + 1
	}

	if n.state == Recovery {
		n.recoveryTokenSteps(t)
	}
	n.tokenSend(t, *forward)
	if n.state == Operational {
		n.deliverMessages(false, n.highSeqReceived)
	}
	n.tokenRxAt = n.now
	n.resetTokenTimeout()
	n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
	if n.ring.Rep == n.self && n.tokenHeld {
		n.tm.start(timerHold, n.now+n.cfg.Hold)
	}
	if n.cfg.OnTokenSent != nil {
		n.cfg.OnTokenSent()
	}
	n.settleDone()
}

// recoveryTokenSteps is the retrans-flag bookkeeping of spec §6.6 that
// decides when RECOVERY is over.
func (n *Node) recoveryTokenSteps(t *orfToken) {
	if !n.retransQ.empty() {
		if t.retransFlg == 0 {
			t.retransFlg = 1
			n.setRetransFlg = true
		}
	} else if t.retransFlg == 1 && n.setRetransFlg {
		t.retransFlg = 0
		n.setRetransFlg = false
	}
	if t.retransFlg == 0 {
		n.retransFlgCount++
	} else {
		n.retransFlgCount = 0
	}
	if n.retransFlgCount == 2 {
		n.installSeq = t.seq
	}
	if n.log.IsDebug() {
		n.debugf("token retrans flag is %d my set retrans flag %v retrans queue empty %v count %d, aru %x install seq %x aru %x high seq received %x",
			t.retransFlg, n.setRetransFlg, n.retransQ.empty(), n.retransFlgCount, t.aru, n.installSeq, n.myAru, n.highSeqReceived)
	}
	if n.retransFlgCount >= 2 && !n.receivedFlg && seqLTE(n.installSeq, n.myAru) {
		n.receivedFlg = true
		n.deliverMemb = slices.Clone(n.trans)
	}
	if n.retransFlgCount >= 3 && seqLTE(n.installSeq, t.aru) {
		n.rotationCounter++
	} else {
		n.rotationCounter = 0
	}
	if n.rotationCounter == 2 {
		n.operationalEnter()
		n.rotationCounter = 0
		n.retransFlgCount = 0
	}
}

// fccCalculate is the flow-control allowance of spec §7.3.
func (n *Node) fccCalculate(t *orfToken) uint32 {
	allowed := n.cfg.MaxMessages
	if allowed > n.cfg.WindowSize-t.fcc {
		allowed = n.cfg.WindowSize - t.fcc
	}
	n.cbl = n.backlog()
	if d := t.backlog + n.cbl - n.pbl; d != 0 {
		if calc := n.cfg.WindowSize * n.pbl / d; calc > 0 && allowed > calc {
			allowed = calc
		}
	}
	return allowed
}

func (n *Node) backlog() uint32 {
	switch n.state {
	case Operational:
		return uint32(n.appQueue().len())
	case Recovery:
		return uint32(n.retransQ.len())
	}
	return 0
}

// fccRtrLimit stops new messages that could overrun the sort-queue window.
func (n *Node) fccRtrLimit(t *orfToken, allowed *uint32) {
	if seqLT(n.lastReleased+sortQueueSize-*allowed-n.cfg.WindowSize, t.seq) {
		*allowed = 0
	}
}

func (n *Node) fccTokenUpdate(t *orfToken, sent uint32) {
	t.fcc += sent - n.trc
	t.backlog += n.cbl - n.pbl
	n.trc = sent
	n.pbl = n.cbl
}

// currentQueue is the sort queue of the current state.
func (n *Node) currentQueue() *sortQueue {
	if n.state == Recovery {
		return n.recovery
	}
	return n.regular
}

// tokenRtr answers the token's retransmit requests (at most *allowed of
// them) and then adds our own missing seqs to its list.
func (n *Node) tokenRtr(t *orfToken, allowed *uint32) uint32 {
	q := n.currentQueue()
	if len(t.rtr) > 0 && n.log.IsInfo() {
		var b strings.Builder
		b.WriteString("Retransmit List: ")
		for _, r := range t.rtr {
			fmt.Fprintf(&b, "%x ", r.seq)
		}
		n.log.Info(b.String())
	}
	var count uint32
	if !n.cfg.Faults.SkipRetransmit {
		for i := 0; count < *allowed && i < len(t.rtr); {
			if t.rtr[i].ring != n.ring {
				i++
				continue
			}
			if f := q.get(t.rtr[i].seq); f != nil {
				n.emit(0, f)
				t.rtr = slices.Delete(t.rtr, i, i+1)
				n.counters.RxRetransmits++
				count++
			} else {
				i++
			}
		}
	}
	*allowed -= count

	if seqLT(t.seq, n.myAru) {
		return count
	}
	span := t.seq - n.myAru
	for i := uint32(1); len(t.rtr) < maxRtrEntries && i <= span; i++ {
		s := n.myAru + i
		if !q.inRange(s) {
			break
		}
		if q.inuse(s) {
			continue
		}
		if q.missCount(s) < n.cfg.MissCountConst {
			continue
		}
		if !slices.ContainsFunc(t.rtr, func(r rtrItem) bool { return r.seq == s }) {
			t.rtr = append(t.rtr, rtrItem{ring: n.ring, seq: s})
		}
	}
	return count
}

// tokenMcast sends up to allowed new messages: from the new-message queue
// in OPERATIONAL, from the retransmit queue in RECOVERY.
func (n *Node) tokenMcast(t *orfToken, allowed uint32) uint32 {
	var q *fifo
	sq := n.currentQueue()
	if n.state == Recovery {
		q = n.retransQ
		n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
	} else {
		q = n.appQueue()
	}
	var count uint32
	for ; count < allowed && !q.empty(); count++ {
		seq := t.seq + 1
		if !sq.inRange(seq) {
			break
		}
		f := q.pop()
		t.seq = seq
		stampMcast(f, seq, n.globalSeqno, n.ring)
		n.globalSeqno++
		sq.add(seq, f)
		n.emit(0, f)
		n.highSeqReceived = t.seq
	}
	n.updateAru()
	return count
}

func (n *Node) updateAru() {
	q := n.currentQueue()
	span := n.highSeqReceived - n.myAru
	i := uint32(1)
	for ; i <= span; i++ {
		if !q.inuse(n.myAru + i) {
			break
		}
	}
	n.myAru += i - 1
}

// messagesFree releases what every member has surely received: up to
// min(token aru, aru at our previous visit, our delivery point).
func (n *Node) messagesFree(tokenAru uint32) {
	releaseTo := tokenAru
	if seqLT(n.lastAru, releaseTo) {
		releaseTo = n.lastAru
	}
	if seqLT(n.highDelivered, releaseTo) {
		releaseTo = n.highDelivered
	}
	if seqLTE(releaseTo, n.lastReleased) {
		return
	}
	n.regular.release(releaseTo)
	n.lastReleased = releaseTo
}

// deliverMessages hands regular-queue messages after highDelivered up to
// end to the application. skip=false stops at the first gap; skip=true
// passes gaps and delivers only messages from deliver-members (EVS).
func (n *Node) deliverMessages(skip bool, end uint32) {
	if !seqLT(n.highDelivered, end) {
		return
	}
	stored := n.highDelivered
	span := end - stored
	for i := uint32(1); i <= span; i++ {
		s := stored + i
		if !n.regular.inRange(s) {
			break
		}
		f := n.regular.get(s)
		if f == nil && !skip {
			break
		}
		n.highDelivered = s
		if f == nil {
			continue
		}
		h, bo, err := decodeHeader(f)
		if err != nil {
			continue
		}
		if skip && !slices.Contains(n.deliverMemb, NodeID(bo.Uint32(f[13:]))) {
			continue
		}
		n.deliver(Delivery{From: h.nodeID, Payload: f[mcastHeaderSize:], Swapped: h.swapped})
	}
}

// deliver appends one message delivery; Faults.ReorderDelivery swaps it
// with the previous one now and then.
func (n *Node) deliver(d Delivery) {
	n.delivered++
	ds := grow(n.out.Deliveries)
	if n.cfg.Faults.ReorderDelivery && n.delivered%7 == 0 && len(ds) > 0 && ds[len(ds)-1].Conf == nil {
		last := ds[len(ds)-1]
		ds[len(ds)-1] = d
		n.out.Deliveries = append(ds, last)
		return
	}
	n.out.Deliveries = append(ds, d)
}

// handleMcast stores a message of our ring (raw) or reacts to a foreign one.
func (n *Node) handleMcast(frame []byte, m *mcastHeader) {
	if m.ring != n.ring {
		n.foreignRing(m.from, gsForeignOperational, gsForeignGather)
		return
	}
	var q *sortQueue
	if m.hdr.encap == encapRecovery {
		// Recovery messages count only while recovering this ring;
		// corosync's recovery queue is reinitialised before any later use.
		if n.state != Recovery {
			return
		}
		q = n.recovery
	} else {
		// A regular message of our ring id is only storable while the
		// regular queue belongs to that ring (not in COMMIT/RECOVERY, nor
		// in GATHER after a failed recovery); corosync would file it among
		// the old ring's messages, and the sender retransmits it later.
		if n.state == Recovery || n.state == Commit || n.regularRing != n.ring {
			return
		}
		q = n.regular
	}
	if q.inRange(m.seq) && !q.inuse(m.seq) {
		q.add(m.seq, frame)
		if seqLT(n.highSeqReceived, m.seq) {
			n.highSeqReceived = m.seq
		}
	}
	n.updateAru()
	if n.state == Operational {
		n.deliverMessages(false, n.highSeqReceived)
	}
}

// tokenSend saves the token for retransmission and forwards it unless the
// representative is holding it.
func (n *Node) tokenSend(t *orfToken, forward bool) {
	t.hdr.nodeID = n.self
	frame := t.appendTo(make([]byte, 0, t.encodedLen()))
	n.lastToken = frame
	if forward {
		n.counters.OrfTokenTx++
		n.emit(n.target, frame)
	}
}

func (n *Node) sendInitialToken() {
	t := orfToken{
		hdr:     header{nodeID: n.self},
		aru:     0xFFFFFFFF,
		aruAddr: n.self,
		ring:    n.ring,
	}
	n.setRetransFlg = !n.retransQ.empty()
	t.retransFlg = b2u(n.setRetransFlg)
	n.tokenSend(&t, true)
}

// tokenRetransmitTimeout resends the last token (not in GATHER).
func (n *Node) tokenRetransmitTimeout() {
	if n.state == Gather {
		return
	}
	n.retransmitToken()
	n.tm.start(timerTokenRetransmit, n.now+n.cfg.TokenRetransmit)
}

func (n *Node) retransmitToken() {
	if n.lastToken == nil {
		return
	}
	n.counters.TokenRetransmits++
	n.emit(n.target, n.lastToken)
}
