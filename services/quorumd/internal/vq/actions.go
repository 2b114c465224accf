package vq

import (
	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// RingID is a totem ring id {representative node id, sequence}.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// State is a node record's state (votequorum.h's VOTEQUORUM_NODESTATE_*).
type State uint32

// Node states; 0 is only ever the quorum device's pseudo-record.
const (
	Member  State = 1
	Dead    State = 2
	Leaving State = 3
)

// NodeState is one entry of a QUORUM_NOTIFICATION node list.
type NodeState struct {
	NodeID uint32
	State  State
}

// Action is something the driver must do; every input returns them in
// the order corosync would have done them.
type Action interface{ vqAction() }

// Mcast asks for Payload (Msg encoded) to be multicast on the ring in
// agreed order as service 5.
type Mcast struct {
	Msg     Message
	Payload []byte
}

// QuorumNotify is corosync's quorum_callback plus votequorum's
// QUORUM_NOTIFICATION to every tracking client: the quorum service gets
// Quorate, Ring and Members (the view list); votequorum trackers get
// Quorate and Nodes (every known record in list order, then {0, state}
// when the local device is registered).
type QuorumNotify struct {
	Quorate bool
	Ring    RingID
	Members []uint32
	Nodes   []NodeState
}

// NodelistNotify is votequorum's NODELIST_NOTIFICATION to every tracker
// (sent from sync_process).
type NodelistNotify struct {
	Ring    RingID
	Members []uint32
}

// ExpectedVotesNotify is the EXPECTEDVOTES_NOTIFICATION to every tracker.
type ExpectedVotesNotify struct{ Expected uint32 }

// CmapSet writes a runtime key (Value is uint8 or uint32, the icmap type
// corosync uses for the key).
type CmapSet struct {
	Key   string
	Value any
}

// PersistBarrier asks the driver to store the expected_votes_tracking
// barrier (4 bytes, native order, in <state_dir>/ev_tracking) durably.
type PersistBarrier struct{ Value uint32 }

// Log is a log line of subsystem VOTEQ with corosync's text.
type Log struct {
	Level hclog.Level
	Msg   string
}

// QdeviceRegisterReply is the deferred answer to the pending
// QdeviceRegister call (sent when our QDEVICE_REG came back).
type QdeviceRegisterReply struct{ Err cs.Error }

// SyncReady says a SyncProcess that returned false is now done (the
// qdevice polled with the new ring, or its sync timeout fired).
type SyncReady struct{}

func (Mcast) vqAction()                {}
func (QuorumNotify) vqAction()         {}
func (NodelistNotify) vqAction()       {}
func (ExpectedVotesNotify) vqAction()  {}
func (CmapSet) vqAction()              {}
func (PersistBarrier) vqAction()       {}
func (Log) vqAction()                  {}
func (QdeviceRegisterReply) vqAction() {}
func (SyncReady) vqAction()            {}
