package srp

import (
	"slices"
	"time"
)

// gatherFrom is the reason code corosync 3.x logs when entering GATHER.
type gatherFrom int

const (
	gsConsensusTimeout gatherFrom = iota
	gsMissing1
	gsTokenLostOperational
	gsConsensusExpired
	gsTokenLostCommit
	gsTokenLostRecovery
	gsFailedToReceive
	gsForeignOperational
	gsForeignGather
	gsMergeOperational
	gsMergeGather
	gsMergeDuringJoin
	gsJoinOperational
	gsJoinCommit
	gsJoinRecovery
	gsInterfaceChange
	gsReform
)

var gatherFromDesc = [...]string{
	"consensus timeout",
	"MISSING",
	"The token was lost in the OPERATIONAL state.",
	"The consensus timeout expired.",
	"The token was lost in the COMMIT state.",
	"The token was lost in the RECOVERY state.",
	"failed to receive",
	"foreign message in operational state",
	"foreign message in gather state",
	"merge during operational state",
	"merge during gather state",
	"merge during join",
	"join during operational state",
	"join during commit state",
	"join during recovery",
	"interface change",
	"new ring requested",
}

// gatherEnter is memb_state_gather_enter: every way into GATHER.
func (n *Node) gatherEnter(from gatherFrom) {
	n.proc = addNode(n.proc, n.deferred...)
	n.deferred = n.deferred[:0]
	n.tokenDiscard = true
	n.originatedToken = false
	n.proc = addNode(n.proc, n.self)
	n.sendJoin()
	n.tm.start(timerJoin, n.now+n.cfg.Join)
	n.tm.start(timerConsensus, n.now+n.cfg.Consensus)
	n.tm.stop(timerTokenRetransmit)
	n.cancelTokenTimeout()
	n.tm.stop(timerMerge)
	n.consensus = append(n.consensus[:0], n.self)
	n.reformPending = false // any GATHER leads to the new ring Reform asked for
	n.debugf("entering GATHER state from %d(%s).", int(from), gatherFromDesc[from])
	n.state = Gather
	n.counters.GatherEntered++
}

// sendJoin multicasts our proposal, after the send_join random delay.
func (n *Node) sendJoin() {
	j := joinMsg{hdr: header{nodeID: n.self}, from: n.self, proc: n.proc, failed: n.failed, ringSeq: n.ring.Seq}
	frame := j.appendTo(make([]byte, 0, joinSize+4*(len(n.proc)+len(n.failed))))
	n.counters.MembJoinTx++
	if n.cfg.SendJoin > 0 && n.cfg.Rand != nil {
		delay := time.Duration(n.cfg.Rand(int64(n.cfg.SendJoin/time.Microsecond))) * time.Microsecond
		at := n.now + delay
		i, _ := slices.BinarySearchFunc(n.delayed, at, func(d delayedSend, t Time) int {
			if d.at <= t { // equal deadlines keep queueing order
				return -1
			}
			return 1
		})
		n.delayed = slices.Insert(n.delayed, i, delayedSend{at: at, frame: frame})
		return
	}
	n.emit(0, frame)
}

func (n *Node) sendMergeDetect() {
	m := mergeDetect{hdr: header{nodeID: n.self}, from: n.self, ring: n.ring}
	n.counters.MembMergeDetectTx++
	n.emit(0, m.appendTo(make([]byte, 0, mergeSize)))
}

// consensusAgreed: every processor of proc − failed sent a join equal to ours.
func (n *Node) consensusAgreed() bool {
	for _, p := range n.proc {
		if !slices.Contains(n.failed, p) && !slices.Contains(n.consensus, p) {
			return false
		}
	}
	return true
}

// lowestInConfig: self is the smallest nodeid of proc − failed.
func (n *Node) lowestInConfig() bool {
	lowest, any := NodeID(0), false
	for _, p := range n.proc {
		if slices.Contains(n.failed, p) {
			continue
		}
		if !any || p < lowest {
			lowest, any = p, true
		}
	}
	return any && lowest == n.self
}

func (n *Node) consensusExpired() {
	n.counters.ConsensusTimeouts++
	if n.consensusAgreed() {
		n.consensus = append(n.consensus[:0], n.self)
		n.resetTokenTimeout()
		return
	}
	for _, p := range n.proc {
		if !slices.Contains(n.consensus, p) {
			n.failed = addNode(n.failed, p)
		}
	}
	n.gatherEnter(gsConsensusTimeout)
}

// tokenTimeout is the token-loss (and heartbeat) timer.
func (n *Node) tokenTimeout() {
	switch n.state {
	case Operational:
		n.debugf("The token was lost in the OPERATIONAL state.")
		n.infof("A processor failed, forming new configuration: token timed out (%dms), waiting %dms for consensus.",
			n.cfg.Token.Milliseconds(), n.cfg.Consensus.Milliseconds())
		n.gatherEnter(gsTokenLostOperational)
		n.counters.TokenLost++
	case Gather:
		n.debugf("The consensus timeout expired (%dms).", n.cfg.Consensus.Milliseconds())
		n.consensusExpired()
		n.gatherEnter(gsConsensusExpired)
	case Commit:
		n.debugf("The token was lost in the COMMIT state.")
		n.gatherEnter(gsTokenLostCommit)
		n.counters.TokenLost++
	case Recovery:
		n.debugf("The token was lost in the RECOVERY state.")
		n.recoveryTokenLoss()
		n.tokenDiscard = true
	}
}

func (n *Node) recoveryTokenLoss() {
	n.oldRingStateRestore()
	n.gatherEnter(gsTokenLostRecovery)
	n.counters.TokenLost++
}

func (n *Node) oldRingStateSave() {
	if n.oldSaved {
		return
	}
	n.oldSaved = true
	n.oldRing = n.ring
	n.oldAru = n.myAru
	n.oldHighSeq = n.highSeqReceived
	n.debugf("Saving state aru %x high seq received %x", n.myAru, n.highSeqReceived)
}

func (n *Node) oldRingStateRestore() {
	n.myAru = n.oldAru
	n.highSeqReceived = n.oldHighSeq
	n.debugf("Restoring instance->my_aru %x my high seq received %x", n.myAru, n.highSeqReceived)
}

// ---- joins ----

func (n *Node) handleJoin(j *joinMsg) {
	if paused := n.now - n.pauseStamp; paused > n.cfg.Token/2 {
		n.infof("Process pause detected for %d ms, flushing membership messages.", paused.Milliseconds())
		return
	}
	if n.tokenRingIDSeq < j.ringSeq {
		n.tokenRingIDSeq = j.ringSeq
	}
	switch n.state {
	case Operational:
		if n.settling() && !slices.Contains(n.memb, j.from) {
			n.deferGather(j.from, gsJoinOperational)
			return
		}
		if !n.ignoreJoinUnderOperational(j) {
			n.joinProcess(j)
		}
	case Gather:
		n.joinProcess(j)
	case Commit:
		if slices.Contains(n.newMemb, j.from) && (j.ringSeq >= n.ring.Seq || n.refusesCommit(j)) {
			n.joinProcess(j)
			n.gatherEnter(gsJoinCommit)
		}
	case Recovery:
		if slices.Contains(n.newMemb, j.from) && j.ringSeq >= n.ring.Seq {
			n.joinProcess(j)
			n.recoveryTokenLoss()
			n.gatherEnter(gsJoinRecovery)
		}
	}
}

// refusesCommit tells, in COMMIT, a join from a member of the proposed
// ring that was sent before its sender took our commit token (its ring
// seq is still below the commit ring's) and that shows the sender will
// refuse the token: its view holds news ours lacks, so it is not an old
// join overtaken by our agreement, and its candidate membership is not
// the one we commit to. See the package doc, "Bounded formation".
func (n *Node) refusesCommit(j *joinMsg) bool {
	stale := subset(j.proc, n.proc) && subset(j.failed, n.failed)
	return !stale && !setEqual(subtract(j.proc, j.failed), n.newMemb)
}

// ignoreJoinUnderOperational is the 3.x stale-join filter.
func (n *Node) ignoreJoinUnderOperational(j *joinMsg) bool {
	if slices.Contains(j.failed, n.self) {
		return true
	}
	return slices.Contains(n.memb, j.from) && j.ringSeq < n.ring.Seq
}

// joinProcess applies the consensus rules of spec §6.4.
func (n *Node) joinProcess(j *joinMsg) {
	var leaver NodeID // the sender of a leave message, which names itself last
	if j.hdr.nodeID == 0 && len(j.failed) > 0 {
		left := j.failed[len(j.failed)-1]
		n.debugf("Received LEAVE message from %d", left)
		n.leaves = addNode(n.leaves, left)
		if left == j.from {
			leaver = left
		}
	}
	entered := false
	switch {
	case setEqual(j.proc, n.proc) && setEqual(j.failed, n.failed):
		if j.hdr.nodeID != 0 {
			n.consensus = addNode(n.consensus, j.from)
		}
		if n.consensusAgreed() && n.failedToRecv {
			n.failedToRecv = false
			n.proc = append(n.proc[:0], n.self)
			n.failed = n.failed[:0]
			n.commitCreate()
			n.commitEnter()
			return
		}
		if n.consensusAgreed() && n.lowestInConfig() {
			n.commitCreate()
			n.commitEnter()
		}
	case subset(j.proc, n.proc) && subset(j.failed, n.failed):
		// the sender is behind; our joins will teach it
	case slices.Contains(n.failed, j.from):
		// ignore processors we consider failed
	default:
		before := len(n.proc) + len(n.failed) // both only grow here
		n.proc = addNode(n.proc, j.proc...)
		// Deviation: corosync (and spec §6.4) fails the sender of a join
		// that names us failed, "we can't both be in the ring". But the
		// verdict may be a round old: two groups that once timed each
		// other out keep re-forming apart, because each group's merge
		// join meets the other's joins still naming it failed, adopts
		// the verdict in mirror and hands it back one round later,
		// forever. Such a join never equals ours, so its sender gets no
		// consensus from us anyway; if it really cannot hear us, the
		// consensus timeout fails it. Its failed list (naming us) is
		// never adopted.
		switch {
		case slices.Contains(j.failed, n.self):
			n.adoptSilentFailed(j.failed)
		case slices.Contains(n.memb, j.from):
			n.failed = addNode(n.failed, j.failed...)
		case slices.Contains(n.consensus, j.from):
			n.adoptAgreedFailed(j.failed)
		default:
			n.adoptSilentFailed(j.failed)
		}
		// Deviation: corosync takes a leave's failed list only from a
		// member of its own ring, like any join's. But a leave is its
		// sender's verdict on itself, true whoever hears it: it sends
		// nothing more. Processors from another ring that ignore it keep
		// the leaver in their proposal while its old ring's members drop
		// it, and the two groups disagree until a consensus timeout
		// fails the leaver, or splits them. Everyone fails the leaver.
		if leaver != 0 && leaver != n.self {
			n.failed = addNode(n.failed, leaver)
		}
		// Deviation: corosync re-enters GATHER here even when the join
		// changed nothing (its failed list names processors we may not
		// adopt because the sender was not in our ring). Two such nodes
		// then answer each other's joins forever, each restart pushing
		// the consensus timeout away: a livelock, and with three or more
		// nodes a join storm. Re-entering only on a real change keeps the
		// consensus timeout running, which resolves the disagreement.
		if len(n.proc)+len(n.failed) != before {
			n.gatherEnter(gsMergeDuringJoin)
			entered = true
		}
	}
	if !entered && n.state == Operational {
		n.gatherEnter(gsJoinOperational)
	}
}

// ---- merge detect and hold cancel ----

func (n *Node) handleMerge(m *mergeDetect) {
	if m.ring != n.ring {
		n.foreignRing(m.from, gsMergeOperational, gsMergeGather)
	}
}

// foreignRing reacts to a frame from another ring (a merge detect or a
// message): an operational node gathers with its sender (unless settling),
// a gathering node adds a sender it did not know of.
func (n *Node) foreignRing(from NodeID, inOperational, inGather gatherFrom) {
	switch n.state {
	case Operational:
		if n.settling() {
			n.deferGather(from, inOperational)
			return
		}
		n.proc = addNode(n.proc, from)
		n.gatherEnter(inOperational)
	case Gather:
		if !slices.Contains(n.proc, from) {
			n.proc = addNode(n.proc, from)
			n.gatherEnter(inGather)
		}
	}
}

func (n *Node) handleHoldCancel(h *holdCancel) {
	// corosync compares the ring id unconverted, so a cancel from a peer
	// of the other byte order never matches.
	if h.hdr.swapped || h.ring != n.ring {
		return
	}
	n.seqUnchanged = 0
	if n.ring.Rep == n.self {
		n.tokenRetransmitTimeout()
	}
}

func (n *Node) tokenHoldCancelSend() {
	if !n.tokenHeld {
		return
	}
	n.tokenHeld = false
	h := holdCancel{hdr: header{nodeID: n.self}, ring: n.ring}
	n.counters.TokenHoldCancelTx++
	n.emit(0, h.appendTo(make([]byte, 0, holdCancelSize)))
}

// settling is true during the first two token visits after a new ring was
// installed. Deviation from corosync, timing only: members leave RECOVERY
// up to a rotation apart, and the failed lists of those still recovering
// are only cleared when they reach OPERATIONAL. A member that re-gathers
// at once on news from outside the ring (a foreign MCAST, a merge detect,
// a join from a non-member) drags the others out of RECOVERY with their
// old failed lists, which exclude the very processors that caused the
// merge; under steady foreign traffic that repeats forever. So such news
// is held until every member is operational.
func (n *Node) settling() bool { return n.state == Operational && n.settleVisits < 2 }

// deferGather remembers a processor from outside the ring for settleDone.
func (n *Node) deferGather(from NodeID, why gatherFrom) {
	if len(n.deferred) == 0 {
		n.deferredWhy = why
	}
	n.deferred = addNode(n.deferred, from)
}

// settleDone acts on news held back while settling, and on a Reform
// asked for meanwhile.
func (n *Node) settleDone() {
	if n.state != Operational || n.settleVisits < 2 {
		return
	}
	switch {
	case len(n.deferred) > 0:
		n.gatherEnter(n.deferredWhy) // adds the deferred processors to proc
	case n.reformPending:
		n.reformEnter()
	}
}

// Reform asks for a new ring of the same processors now: the node enters
// GATHER as a token loss in OPERATIONAL would, without waiting out the
// token timeout. Its join carries the ring's own seq and lists the ring's
// members, so no member filters it (corosync's stale-join filter drops
// only joins with an older seq): each member leaves OPERATIONAL on it,
// the representative straight into COMMIT, and the ring re-forms with
// every member within a few join periods. Extended virtual synchrony is
// that of any membership change: the old ring's messages are recovered and
// delivered before the transitional configuration.
//
// A driver asks for it when members that synchronise their services only
// at a ring change (corosync 3.1.7 nodes) must send their sync state
// again. Outside OPERATIONAL a new ring is being formed already and
// Reform does nothing; in the first token visits of a ring (settling, see
// settleDone) it waits until every member is operational.
func (n *Node) Reform(now Time) {
	if n.stopped || !n.started || n.state != Operational {
		return
	}
	n.now = now
	if n.settling() {
		n.reformPending = true
		return
	}
	n.reformEnter()
}

func (n *Node) reformEnter() {
	n.infof("Forming a new configuration with the same members on request.")
	n.gatherEnter(gsReform)
}

// adoptSilentFailed takes from a join we may not fully adopt (its sender
// is not of our ring, or it names us failed) the verdicts on processors
// we have heard nothing from for a consensus period. Deviation: corosync
// ignores such a failed list. But a dead processor then stays in every
// group's proc after a merge: each group fails it on its own consensus
// timeout, at a different time, and the group that times out first
// changes its join while the others cannot follow, so their timeouts fail
// each other as well and the groups re-form apart, merge, and repeat
// forever. Our own consensus timeout would fail such a silent processor
// anyway; adopting the verdict early only lets the groups agree.
func (n *Node) adoptSilentFailed(failed []NodeID) {
	for _, p := range failed {
		if p == n.self || slices.Contains(n.failed, p) {
			continue
		}
		if at, ok := n.heard[p]; ok && n.now-at < n.cfg.Consensus {
			continue
		}
		n.failed = addNode(n.failed, p)
	}
}

// adoptAgreedFailed takes the verdicts of a processor from another ring
// that had agreed with our join in this round: its consensus timeout
// fired first and failed whoever had not agreed with it, which is whoever
// has not agreed with us either, and ours would fail them a moment later.
// Deviation: corosync adopts a failed list only from members of its own
// old ring. But groups that met in one round then time out one after the
// other: the first to fire changes its join, the others cannot follow and
// fail it in turn, and groups from different rings re-form apart, round
// after round, out of phase (the simulator found four groups of an 8-node
// ring doing so forever after every fault had healed). A processor that
// agreed with us is following the same round, so its verdicts are as good
// as ours, except on processors that agreed with us (its copy of their
// join may have been lost): those we keep.
func (n *Node) adoptAgreedFailed(failed []NodeID) {
	for _, p := range failed {
		if p != n.self && !slices.Contains(n.consensus, p) {
			n.failed = addNode(n.failed, p)
		}
	}
}
