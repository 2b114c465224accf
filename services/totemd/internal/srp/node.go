package srp

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/logsys"
)

// seqnoStartToken − 1: the token_seq a node accepts any token after.
const tokenSeqNone = 0xFFFFFFFF

// messageSizeMax is corosync's MESSAGE_SIZE_MAX; the new-message queue
// holds 4 × this many bytes of frames.
const messageSizeMax = 1024 * 1024

// Node is one Totem SRP processor. Create it with New; it is not safe for
// concurrent use (the driver serialises every call).
//
// Frames passed to Receive are retained (MCAST frames stay in the sort
// queue for retransmission and their payloads are handed out in
// deliveries): the caller must not modify a frame after passing it. Frames
// handed out in Ready are never modified by the node either, so the
// driver may give one frame to several receivers.
type Node struct {
	cfg  Config
	self NodeID
	log  hclog.Logger
	now  Time

	known     map[NodeID]bool // the configured nodelist (see known.go)
	heard     map[NodeID]Time // when a valid frame last came from each sender
	tokenRxAt Time            // when a token was last processed (token warning)
	idScratch []NodeID

	state   State
	started bool // Start was called: frames are accepted
	stopped bool // after Leave

	ring, oldRing  RingID
	regularRing    RingID // ring whose messages the regular sort queue holds
	tokenRingIDSeq uint64

	memb, proc, failed  []NodeID
	newMemb, trans      []NodeID
	deliverMemb, leaves []NodeID
	consensus           []NodeID

	myAru, highSeqReceived, highDelivered uint32
	lastAru, lastReleased, tokenSeq       uint32
	lastSeq, seqUnchanged, aruCount       uint32
	oldSaved                              bool
	oldAru, oldHighSeq                    uint32
	trc, pbl, cbl                         uint32
	receivedFlg, setRetransFlg            bool
	installSeq, highRingDelivered         uint32
	retransFlgCount, rotationCounter      uint32
	failedToRecv                          bool
	tokenDiscard, originatedToken         bool
	tokenHeld                             bool
	inToken                               bool
	globalSeqno                           uint32
	settleVisits                          uint32 // token visits since operationalEnter
	deferred                              []NodeID
	deferredWhy                           gatherFrom
	reformPending                         bool // Reform asked for while settling
	waitingTransAck                       bool
	heartbeatTimeout                      time.Duration

	newQ, newQTrans, retransQ *fifo
	regular, recovery         *sortQueue

	commit    commitToken // the commit token being installed
	lastToken []byte      // last token or commit token sent, for retransmission
	target    NodeID      // token successor in the ring being installed

	tm         timers
	pauseStamp Time
	delayed    []delayedSend

	out       Ready
	counters  Counters
	rtrBuf    []rtrItem
	delivered uint64 // message deliveries, for Faults.ReorderDelivery
	broken    error  // a broken invariant (invariants.go): the node has left
}

var _ Interface = (*Node)(nil)

// New validates cfg (zero fields take corosync 3.1.7 defaults) and returns a
// node in its initial state; call Start to bring it up.
func New(cfg Config) (*Node, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, fmt.Errorf("srp: new node: %w", err)
	}
	n := &Node{
		cfg:             cfg,
		self:            cfg.Self,
		log:             cfg.Logger,
		state:           Operational,
		receivedFlg:     true,
		tokenSeq:        tokenSeqNone,
		waitingTransAck: cfg.ManualTransAck,
		retransQ:        newFIFO(sortQueueSize),
		regular:         newSortQueue(),
		recovery:        newSortQueue(),
		rtrBuf:          make([]rtrItem, 0, maxRtrEntries),
		known:           make(map[NodeID]bool, len(cfg.Nodes)),
		heard:           make(map[NodeID]Time, len(cfg.Nodes)),
	}
	for _, id := range cfg.Nodes {
		n.known[id] = true
	}
	if n.log == nil {
		n.log = hclog.NewNullLogger()
	}
	qsize := 4 * messageSizeMax / n.packetSize()
	n.newQ, n.newQTrans = newFIFO(qsize), newFIFO(qsize)
	if w := cfg.TokenWarning; w > 0 {
		n.log.Debug(fmt.Sprintf("Token warning every %d ms (%d%% of Token Timeout)", w.Milliseconds(), w*100/cfg.Token))
		if w < cfg.TokenRetransmit {
			n.log.Debug(fmt.Sprintf("The token warning interval (%d ms) is less than the token retransmit timeout (%d ms) "+
				"which can lead to spurious token warnings. Consider increasing the token_warning parameter.",
				w.Milliseconds(), cfg.TokenRetransmit.Milliseconds()))
		}
	} else {
		n.log.Debug("Token warnings disabled")
	}
	if cfg.HeartbeatFailures > 0 {
		hb := time.Duration(cfg.HeartbeatFailures)*cfg.TokenRetransmit + cfg.MaxNetworkDelay
		if hb < cfg.Token {
			n.heartbeatTimeout = hb
		} else {
			n.log.Debug(fmt.Sprintf("total heartbeat_timeout (%d ms) is not less than token timeout (%d ms); heartbeat is disabled", hb.Milliseconds(), cfg.Token.Milliseconds()))
		}
	}
	return n, nil
}

// packetSize is corosync 3.x's adjusted net_mtu: netmtu − 2 × 45.
func (n *Node) packetSize() int { return n.cfg.NetMTU - 2*mcastHeaderSize }

// MaxPayload is the largest payload Mcast accepts (the adjusted net_mtu).
func (n *Node) MaxPayload() int { return n.packetSize() }

// Start brings the interface up: the ring id {self, cfg.RingSeq}, then
// GATHER ("interface change").
func (n *Node) Start(now Time) {
	if n.stopped || n.started {
		return
	}
	n.now = now
	n.started = true
	n.tokenRxAt = now
	n.resetPauseTimeout()
	n.ring = RingID{Rep: n.self, Seq: n.cfg.RingSeq}
	n.regularRing = n.ring
	n.tokenRingIDSeq = n.ring.Seq
	n.debugf("Created or loaded sequence id %x.%x for this ring.", n.ring.Rep, n.ring.Seq)
	n.gatherEnter(gsInterfaceChange)
	n.verify()
}

// Receive handles one frame from the network.
func (n *Node) Receive(now Time, frame []byte) error {
	if n.stopped || !n.started {
		return nil
	}
	n.now = now
	d, err := decodeFrame(frame, n.rtrBuf)
	if err != nil {
		n.counters.DecodeErrors++
		if n.log.IsDebug() {
			n.log.Debug("dropping frame", "error", err)
		}
		return fmt.Errorf("srp: receive: %w", err)
	}
	if err := n.checkKnown(&d); err != nil {
		n.counters.DecodeErrors++
		if n.log.IsDebug() {
			n.log.Debug("dropping frame", "error", err)
		}
		return fmt.Errorf("srp: receive: %w", err)
	}
	if d.hdr.nodeID != 0 {
		n.heard[d.hdr.nodeID] = now // checkKnown bounds the keys
	}
	switch d.hdr.typ {
	case typeOrfToken:
		n.counters.OrfTokenRx++
		n.handleToken(&d.token)
	case typeMcast:
		n.counters.MemoMcastRx++
		n.handleMcast(frame, &d.mcast)
	case typeMergeDetect:
		n.counters.MembMergeRx++
		n.handleMerge(&d.merge)
	case typeJoin:
		n.counters.MembJoinRx++
		n.handleJoin(&d.join)
	case typeCommitToken:
		n.counters.MembCommitRx++
		n.handleCommit(&d.commit)
	case typeHoldCancel:
		n.counters.TokenHoldRx++
		n.handleHoldCancel(&d.cancel)
	}
	n.verify()
	return nil
}

// Tick fires every timer (and releases every delayed join) due by now, in
// deadline order.
func (n *Node) Tick(now Time) {
	if n.stopped {
		return
	}
	n.now = now
	for {
		id, at, ok := n.tm.next()
		if len(n.delayed) > 0 && n.delayed[0].at <= now && (!ok || n.delayed[0].at <= at) {
			n.emit(0, n.delayed[0].frame)
			n.delayed = n.delayed[1:]
			continue
		}
		if !ok || at > now {
			n.verify()
			return
		}
		n.tm.stop(id)
		n.fire(id)
		if n.stopped {
			return // broken down (verify) or left
		}
	}
}

// NextDeadline is the earliest armed timer or delayed join.
func (n *Node) NextDeadline() (Time, bool) {
	if n.stopped {
		return 0, false
	}
	_, at, ok := n.tm.next()
	if len(n.delayed) > 0 && (!ok || n.delayed[0].at < at) {
		return n.delayed[0].at, true
	}
	return at, ok
}

func (n *Node) fire(id timerID) {
	switch id {
	case timerTokenLoss:
		n.counters.TokenTimeouts++
		n.tokenTimeout()
	case timerHeartbeat:
		n.counters.TokenTimeouts++
		n.debugf("HeartBeat Timer expired Invoking token loss mechanism in state %d", n.state)
		n.tokenTimeout()
	case timerTokenRetransmit:
		n.tokenRetransmitTimeout()
	case timerHold:
		if n.state == Operational || n.state == Recovery {
			n.retransmitToken()
		}
	case timerMerge:
		if n.state == Operational && n.ring.Rep == n.self {
			n.sendMergeDetect()
		}
	case timerJoin:
		if n.state == Gather || n.state == Commit {
			n.sendJoin()
			n.tm.start(timerJoin, n.now+n.cfg.Join)
		}
	case timerConsensus:
		n.consensusExpired()
	case timerPause:
		n.resetPauseTimeout()
	case timerTokenWarning:
		n.noticef("Token has not been received in %d ms ", (n.now - n.tokenRxAt).Milliseconds())
		n.tm.start(timerTokenWarning, n.now+n.cfg.TokenWarning)
	}
}

// Mcast queues a payload for agreed-order delivery. Called from outside the
// token hooks it also asks a representative holding the token to release
// it, as totempg does for every new application message.
func (n *Node) Mcast(now Time, payload []byte) error {
	if n.stopped {
		return errors.New("srp: mcast: node has left the ring")
	}
	n.now = now
	if len(payload) > n.packetSize() {
		return fmt.Errorf("srp: mcast: payload of %d bytes exceeds the %d-byte packet size", len(payload), n.packetSize())
	}
	q := n.appQueue()
	if q.full() {
		return ErrQueueFull
	}
	frame := make([]byte, 0, mcastHeaderSize+len(payload))
	frame = appendMcastHeader(frame, &mcastHeader{hdr: header{encap: encapNormal, nodeID: n.self}, from: n.self})
	frame = append(frame, payload...)
	q.push(frame)
	n.counters.MemoMcastTx++
	if !n.inToken {
		n.tokenHoldCancelSend()
	}
	return nil
}

// Signal tells the node the application has something to send (totempg's
// event signal): if the token is being held it multicasts
// TOKEN_HOLD_CANCEL. pg calls it when a message enters its packing buffer.
func (n *Node) Signal(now Time) {
	if n.stopped || n.inToken {
		return // while the token is being handled, its hold is decided there
	}
	n.now = now
	n.tokenHoldCancelSend()
}

// TransAck ends the trans-ack wait (Config.ManualTransAck): queued
// application messages flow again.
func (n *Node) TransAck() { n.waitingTransAck = false }

// appQueue is the new-message queue Mcast fills and the token drains.
func (n *Node) appQueue() *fifo {
	if n.waitingTransAck {
		return n.newQTrans
	}
	return n.newQ
}

// Avail is the number of free slots in the new-message queue.
func (n *Node) Avail() int { return n.appQueue().avail() }

// Queued is the number of messages waiting in the new-message queue.
func (n *Node) Queued() int { return n.appQueue().len() }

// MaxMessages is the most messages one token visit sends (max_messages,
// after defaults).
func (n *Node) MaxMessages() int { return int(n.cfg.MaxMessages) }

// Leave multicasts the leave message (a join with header nodeid 0 listing
// self as failed); the node then ignores every further event.
func (n *Node) Leave(now Time) {
	if n.stopped {
		return
	}
	n.now = now
	n.debugf("sending join/leave message")
	n.failed = addNode(n.failed, n.self)
	j := joinMsg{hdr: header{nodeID: 0}, from: n.self, proc: subtract(n.proc, []NodeID{n.self}), failed: n.failed, ringSeq: n.ring.Seq}
	n.counters.MembJoinTx++
	n.emit(0, j.appendTo(make([]byte, 0, joinSize+4*(len(j.proc)+len(j.failed)))))
	n.stopped = true
	n.tm = timers{}
	n.delayed = nil
}

// Ready returns and clears what the node wants done. The returned slices
// stay valid: the node only ever appends to capacity beyond them.
func (n *Node) Ready() Ready {
	r := n.out
	r.Broken = n.broken
	r.Sends = r.Sends[:len(r.Sends):len(r.Sends)]
	r.Deliveries = r.Deliveries[:len(r.Deliveries):len(r.Deliveries)]
	if len(r.Sends) == 0 {
		r.Sends = nil
	}
	if len(r.Deliveries) == 0 {
		r.Deliveries = nil
	}
	n.out = Ready{
		Sends:      n.out.Sends[len(n.out.Sends):],
		Deliveries: n.out.Deliveries[len(n.out.Deliveries):],
	}
	return r
}

// grow makes room for one more element, in chunks, so that successive
// Ready results share few allocations (see Ready).
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	nb := make([]T, len(s), max(64, 2*len(s)))
	copy(nb, s)
	return nb
}

// Status is a snapshot of the protocol state.
func (n *Node) Status() Status {
	return Status{
		State:    n.state,
		Ring:     n.ring,
		Members:  slices.Clone(n.memb),
		MyAru:    n.myAru,
		HighSeq:  n.highSeqReceived,
		Backlog:  n.appQueue().len(),
		Counters: n.counters,
		Broken:   n.broken,
	}
}

// emit queues a frame for the driver; to 0 is a multicast.
func (n *Node) emit(to NodeID, frame []byte) {
	n.out.Sends = append(grow(n.out.Sends), Send{To: to, Frame: frame})
}

func (n *Node) debugf(format string, args ...any) {
	if n.log.IsDebug() {
		n.log.Debug(fmt.Sprintf(format, args...))
	}
}

func (n *Node) noticef(format string, args ...any) {
	if n.log.IsInfo() {
		logsys.Notice(n.log, fmt.Sprintf(format, args...))
	}
}

func (n *Node) infof(format string, args ...any) {
	if n.log.IsInfo() {
		n.log.Info(fmt.Sprintf(format, args...))
	}
}

// ---- small ordered sets of nodeids (corosync's memb_set_*) ----

func addNode(set []NodeID, ids ...NodeID) []NodeID {
	for _, id := range ids {
		if !slices.Contains(set, id) {
			set = append(set, id)
		}
	}
	return set
}

func subtract(a, b []NodeID) []NodeID {
	out := make([]NodeID, 0, len(a))
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// setEqual follows memb_set_equal: same length and every b in a.
func setEqual(a, b []NodeID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, id := range b {
		if !slices.Contains(a, id) {
			return false
		}
	}
	return true
}

// subset follows memb_set_subset: no longer than full, every element in full.
func subset(sub, full []NodeID) bool {
	if len(sub) > len(full) {
		return false
	}
	for _, id := range sub {
		if !slices.Contains(full, id) {
			return false
		}
	}
	return true
}

func sortedCopy(s []NodeID) []NodeID {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
