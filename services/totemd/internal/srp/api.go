// Package srp is the Totem single-ring ordering and membership protocol
// (spec/totem.md) as a pure, deterministic state machine.
//
// Nothing in this package owns a goroutine, a socket, a clock or a source of
// randomness. The driver (totemd's node loop, or the simulator) feeds events
// in — Start, Receive, Tick, Mcast, Leave — each stamped with the current
// time, and then drains what the node wants done with Ready: frames to send,
// messages and configuration changes to deliver in one totally ordered
// stream, and the ring sequence to persist. NextDeadline says when Tick must
// be called next. The same inputs in the same order always give the same
// outputs, which is what lets the simulator replay any schedule from a seed.
//
// The wire format is corosync 3.1.7's ("W3", spec/totem.md §3–4): every frame
// that leaves through Ready is a complete Totem frame without crypto; the
// driver seals and opens frames around it.
//
// # Bounded formation
//
// When the network is stable and the processors are told of every change
// (a start sends a join, a clean stop a leave), one ring must form within a
// few join periods and at most a consensus timeout; a token loss is how
// Totem learns what it was not told (a crash, a partition) and must not be
// needed. The simulator checks this (its KindFormation). Three rules of
// this package serve it; each changes only which decision a node takes,
// never a frame's format, so corosync 3.1.7 nodes interoperate.
//
// A processor in COMMIT that hears a join from a member of the ring it
// commits to, still carrying that member's old ring seq, returns to GATHER
// when the join shows the member will refuse the commit token (handleJoin,
// refusesCommit). EVS installs a ring only if every member takes the
// commit token; a member takes it in GATHER only if the token's member
// list equals its own proposal (proc − failed). Proposals only grow within
// a round, so a join whose lists are within ours is one the member sent
// before it agreed with us: corosync's ring-seq filter rightly ignores it,
// else any reordered join would break a commit. But a join that names a
// processor or a verdict we lack, with a proposal other than our member
// list, was sent after the member learned something we did not: it cannot
// take our token, the commit can only end in our token loss, and the member
// is waiting for us in GATHER, where it never hears from us (COMMIT sends
// no joins). corosync drops the join by the same filter and so waits the
// token timeout; with daemons started a few milliseconds apart this is the
// common case, not a corner. Leaving COMMIT for GATHER is what the token
// loss would do anyway, so safety is unchanged; only the wait goes. RECOVERY
// keeps the filter: every member has taken the token by then, so a join
// with an older seq is always stale.
//
// A leave is adopted as a verdict by every processor that hears it, not only
// by members of the leaver's ring (joinProcess): it is the sender's verdict
// on itself.
//
// The pause detector is stamped whenever its timer is armed, ring
// installation included (resetPauseTimeout): a join (typically a leave) is
// dropped as a paused process's backlog only after a real pause.
package srp

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
)

// NodeID identifies a processor. Zero is reserved (it marks a leave).
type NodeID uint32

// RingID names one ring: its representative and a sequence that grows by 4
// with every new ring.
type RingID struct {
	Rep NodeID
	Seq uint64
}

// Time is the driver's monotonic clock: any epoch, only differences matter.
type Time = time.Duration

// State is the membership state of a processor.
type State uint8

// The four membership states of spec/totem.md §6.
const (
	Operational State = iota
	Gather
	Commit
	Recovery
)

// Config holds everything a node needs; durations are the effective values
// after the corosync.conf defaults and scaling (libs/coroconf computes them).
type Config struct {
	// Self is this node's id; it must be in Nodes.
	Self NodeID
	// Nodes is the configured nodelist. With udpu a multicast is a unicast to
	// each of them (including self); the simulator does the same.
	Nodes []NodeID

	Token                  time.Duration // token loss timeout
	TokenWarning           time.Duration // log when no token came for this long; 0 = off (not defaulted)
	TokenRetransmit        time.Duration // resend the last token if nothing heard
	Hold                   time.Duration // representative's hold on an idle ring
	Join                   time.Duration // join resend period
	SendJoin               time.Duration // max random delay before a join; 0 = none
	Consensus              time.Duration // consensus timeout in GATHER
	Merge                  time.Duration // merge-detect delay
	Downcheck              time.Duration // interface re-check period
	FailRecvConst          uint32        // rotations before "failed to receive"
	SeqnoUnchangedConst    uint32        // idle rotations before token hold
	MissCountConst         uint32        // visits before requesting a retransmit
	WindowSize             uint32        // max messages per rotation, all nodes
	MaxMessages            uint32        // max messages per node per visit
	HeartbeatFailures      uint32        // 0 = heartbeat off
	MaxNetworkDelay        time.Duration // used by the heartbeat timer
	CancelHoldOnRetransmit bool          // totem.cancel_token_hold_on_retransmit
	NetMTU                 int           // totem.netmtu (1500)

	// RingSeq is the ring sequence loaded from the state directory (already
	// incremented by one, as 3.x does at start).
	RingSeq uint64

	// Rand supplies the only randomness (the send_join delay). Nil means the
	// delay is always zero.
	Rand func(n int64) int64

	// OnTokenReceived and OnTokenSent are the token hooks of spec/totem.md
	// §7 steps 8 and 22: totempg flushes its packing buffer in the first,
	// the sync engine does its work in the second. They run synchronously
	// inside the event that received the token and may call Mcast.
	OnTokenReceived func()
	OnTokenSent     func()

	// Logger receives the protocol's log lines (subsystem TOTEM). Nil
	// discards them.
	Logger hclog.Logger

	// Faults deliberately break the protocol; only the simulator's checker
	// tests set them, to prove the checker catches a broken core.
	Faults Faults

	// ManualTransAck turns on corosync 3.x's trans-ack gate (spec/sync.md
	// §6): from start-up and from every transitional configuration on,
	// Mcast fills a second queue and only that one is sent, until the
	// driver calls (*Node).TransAck when sync has finished. False (the
	// default) acknowledges at once, i.e. a single queue.
	ManualTransAck bool
}

// Faults are deliberate protocol bugs for testing the invariant checker.
type Faults struct {
	SkipRetransmit   bool // never answer retransmit requests
	ReorderDelivery  bool // swap adjacent deliveries now and then
	SkipOldRingFlush bool // drop old-ring messages during recovery
	// BreakAru corrupts the node's own state (my_aru past every message
	// received) on its first token visit after a ring forms, to prove
	// that the invariants (invariants.go) catch a broken state.
	BreakAru bool
}

// Send is one frame to put on the wire.
type Send struct {
	// To is the destination; 0 means multicast (udpu: every node in Nodes,
	// self included).
	To    NodeID
	Frame []byte
}

// ConfType distinguishes the two configurations of extended virtual synchrony.
type ConfType uint8

// A transitional configuration always precedes its regular one.
const (
	Transitional ConfType = iota
	Regular
)

// ConfChange is a configuration installed by this node.
type ConfChange struct {
	Type    ConfType
	Ring    RingID
	Members []NodeID // sorted ascending
	Left    []NodeID
	Joined  []NodeID
}

// Delivery is one entry of the totally ordered stream handed to the
// application: either a message or, when Conf is non-nil, a configuration.
type Delivery struct {
	Conf *ConfChange
	// From is the originator of a message.
	From NodeID
	// Payload is the message body after the MCAST header (a totempg frame).
	Payload []byte
	// Swapped is true when the originator's byte order differs from ours.
	Swapped bool
}

// Ready is what the node wants done after the events fed to it so far.
type Ready struct {
	Sends      []Send
	Deliveries []Delivery
	// PersistRingSeq, when non-zero, is a ring sequence to write to the
	// state directory before the Sends go out.
	PersistRingSeq uint64
	// Broken, once set, is the invariant this node found broken in its
	// own state (it wraps ErrInvariant; see invariants.go): the node has
	// dropped this batch's deliveries, queued its leave message in Sends
	// and does nothing more. The driver sends, logs and stops.
	Broken error
}

// Status is a snapshot for cfg and the runtime.totem.* statistics.
type Status struct {
	State    State
	Ring     RingID
	Members  []NodeID
	MyAru    uint32
	HighSeq  uint32
	Backlog  int // messages waiting in the new-message queue
	Counters Counters
	Broken   error // see Ready.Broken
}

// Counters are cumulative protocol statistics (runtime.totem.pg.mrp.srp.*).
type Counters struct {
	OrfTokenTx, OrfTokenRx            uint64
	MemoMcastTx, MemoMcastRx          uint64
	MembMergeDetectTx, MembMergeRx    uint64
	MembJoinTx, MembJoinRx            uint64
	MembCommitTokenTx, MembCommitRx   uint64
	TokenHoldCancelTx, TokenHoldRx    uint64
	OperationalEntered, GatherEntered uint64
	CommitEntered, RecoveryEntered    uint64
	ConsensusTimeouts, RxRetransmits  uint64
	TokenRetransmits, TokenLost       uint64
	DecodeErrors                      uint64
	// TokenTimeouts counts expiries of the token-loss timer (and of the
	// heartbeat timer), in any state: how often the node waited a whole
	// token timeout. TokenLost, like corosync's *_token_lost, also counts
	// a RECOVERY abandoned on a join.
	TokenTimeouts uint64
}

// ErrQueueFull is returned by Mcast when the new-message queue is full; the
// caller must retry later, nothing was queued.
var ErrQueueFull = errors.New("srp: new-message queue full")

// Interface of *Node, written out so the driver, the simulator and tests
// agree on it while the implementation grows. Every method is deterministic.
type Interface interface {
	// Start brings the interface up: load the ring id and enter GATHER.
	Start(now Time)
	// Receive handles one Totem frame from the network (crypto removed).
	// Malformed frames are counted and dropped; the error says why. The
	// node may keep frame (MCAST frames stay queued for retransmission and
	// their payloads are delivered in place): do not modify it afterwards.
	Receive(now Time, frame []byte) error
	// Tick fires every timer whose deadline is ≤ now.
	Tick(now Time)
	// NextDeadline is the earliest armed timer; ok is false if none is armed.
	NextDeadline() (deadline Time, ok bool)
	// Mcast queues one payload (a totempg frame of at most the packet size)
	// for agreed-order multicast.
	Mcast(now Time, payload []byte) error
	// Avail is the number of free slots in the new-message queue.
	Avail() int
	// Leave multicasts the leave message of a graceful shutdown.
	Leave(now Time)
	// Reform starts a new ring of the same processors at once, as a
	// token loss would (see (*Node).Reform).
	Reform(now Time)
	// Ready returns and clears what the node wants done.
	Ready() Ready
	// Status is a snapshot of the protocol state.
	Status() Status
}
