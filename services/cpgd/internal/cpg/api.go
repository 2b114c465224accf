package cpg

import (
	"github.com/needle-cluster/needle/libs/corotypes/ring"
)

// ConnID names one client connection; the adapter chooses it (unique among
// the connections the core knows).
type ConnID uint64

// MaxNameLength is the longest group name (CPG_MAX_NAME_LENGTH).
const MaxNameLength = 128

// MaxGroupMembers bounds the entries of one confchg list: libcpg copies
// them into 128-entry arrays (CPG_MEMBERS_MAX), and 3.1.7's per-sync arrays
// hold that many per group.
const MaxGroupMembers = 128

// Reason is why a process appears in a joined or left list.
type Reason uint32

// Reasons (CONFCHG_CPG_REASON_*). Member-list entries carry 0.
const (
	ReasonUndefined Reason = 0
	ReasonJoin      Reason = 1
	ReasonLeave     Reason = 2
	ReasonNodeDown  Reason = 3
	ReasonNodeUp    Reason = 4
	ReasonProcDown  Reason = 5
)

// Address is one process (mar_cpg_address_t).
type Address struct {
	NodeID uint32
	PID    uint32
	Reason Reason
}

// PartialType is the position of a fragment (LIBCPG_PARTIAL_*).
type PartialType uint32

// Fragment positions.
const (
	PartialFirst     PartialType = 1
	PartialContinued PartialType = 2
	PartialLast      PartialType = 3
)

// IterType is cpg_iteration_initialize's type.
type IterType uint32

// Iteration types (CPG_ITERATION_*). Any other value iterates like
// IterAll, as in 3.1.7.
const (
	IterNameOnly IterType = 1
	IterOneGroup IterType = 2
	IterAll      IterType = 3
)

// FlagInitialTotemConf is the model-v1 join flag asking for one initial
// totem confchg (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF).
const FlagInitialTotemConf = 0x1

// IterEntry is one iteration result (mar_cpg_iteration_description_t).
type IterEntry struct {
	Group  string
	NodeID uint32
	PID    uint32
}

// Round is one sync round as svchost gives it: FullSync after a ring
// change, or a per-service round (Service) after a cpgd attached or
// detached on some node. Members is the membership being synced; Trans
// those of them that were members of the previous configuration
// (corosync's trans_list). Only needle nodes take part in a per-service
// round: a corosync member among Members sends nothing in it.
type Round struct {
	ID      uint64
	Ring    ring.ID
	Members []uint32
	Trans   []uint32
	Service bool
}

// Event is an event for one client connection; the adapter encodes it as
// the matching libqb dispatch message.
type Event interface {
	// Target is the connection the event is for.
	Target() ConnID
}

// ConfChgEvent is MESSAGE_RES_CPG_CONFCHG_CALLBACK: Members is the group's
// membership after the change (reason 0), Left and Joined the change.
type ConfChgEvent struct {
	Conn                  ConnID
	Group                 string
	Members, Left, Joined []Address
}

// DeliverEvent is MESSAGE_RES_CPG_DELIVER_CALLBACK.
type DeliverEvent struct {
	Conn   ConnID
	Group  string
	NodeID uint32
	PID    uint32
	Data   []byte
}

// PartialDeliverEvent is MESSAGE_RES_CPG_PARTIAL_DELIVER_CALLBACK: one
// fragment (Data) of a message of MsgLen bytes.
type PartialDeliverEvent struct {
	Conn   ConnID
	Group  string
	NodeID uint32
	PID    uint32
	MsgLen uint32
	Type   PartialType
	Data   []byte
}

// TotemConfChgEvent is MESSAGE_RES_CPG_TOTEM_CONFCHG_CALLBACK: the ring id
// and member list of a sync round (addendum §3.3).
type TotemConfChgEvent struct {
	Conn    ConnID
	Ring    ring.ID
	Members []uint32
}

// Target implements Event.
func (e ConfChgEvent) Target() ConnID { return e.Conn }

// Target implements Event.
func (e DeliverEvent) Target() ConnID { return e.Conn }

// Target implements Event.
func (e PartialDeliverEvent) Target() ConnID { return e.Conn }

// Target implements Event.
func (e TotemConfChgEvent) Target() ConnID { return e.Conn }

// Ready is what the core wants done, in order: multicast Mcasts (each an
// encoded cpg ring message, exec header first) with Host.Mcast in this
// order, and send Events to their connections in this order. Both slices
// belong to the caller.
type Ready struct {
	Mcasts [][]byte
	Events []Event
}

// Config configures one node's core.
type Config struct {
	// NodeID is this node's id (non-zero).
	NodeID uint32
	// Keep317AbortBug reproduces 3.1.7's sync abort: stored JOINLISTs are
	// kept when the abort arrives after SyncProcess finished (the barrier
	// phase), which leaves ghost members (addendum §3.1). Only for tests
	// that show the checker catches it; never set in cpgd.
	Keep317AbortBug bool
	// Warn, if set, receives a line for every input the core refused or
	// ignored (bad ring messages, messages from unknown senders, …).
	Warn func(msg string, args ...any)
}

// Stats counts what the core ignored, for logs and tests.
type Stats struct {
	Malformed        uint64 // ring messages Deliver rejected
	UnknownSender    uint64 // MCAST/PARTIAL_MCAST from a node with no process in the group ("Unknown node")
	BadFragments     uint64 // fragments withheld from a connection: out of sequence or inconsistent lengths
	DownlistOld      uint64 // DOWNLIST_OLD received (ignored, as 3.1.7)
	OutOfRound       uint64 // JOINLIST/DOWNLIST outside a sync round (ignored)
	HeldMcasts       uint64 // ring messages held while a sync round ran
	MembersCapped    uint64 // joins refused because the group is full
	UnknownProcLeave uint64 // PROCLEAVE for a process not in the list
}
