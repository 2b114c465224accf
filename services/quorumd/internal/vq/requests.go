package vq

import (
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// The local requests return the status corosync answers the client with
// and the actions. A multicast the ring later refuses is the driver's to
// report (corosync answers CS_ERR_NO_RESOURCES / TRY_AGAIN there).

// SetExpected is votequorum_setexpected.
func (c *Core) SetExpected(n uint32) (cs.Error, []Action) {
	saved := c.allowDownscale
	c.allowDownscale = false
	q, total := c.calculateQuorum(true, n)
	c.allowDownscale = saved
	if n < total || (c.quorate && q > total) {
		return cs.ErrInvalidParam, nil
	}
	c.updateNodeExpected(n)
	c.mcast(Reconfigure{NodeID: c.id, Value: n, Param: ParamExpectedVotes})
	return cs.OK, c.take()
}

// SetVotes is votequorum_setvotes (node id 0 is the quorum device's
// record). The new value is kept locally at once, as in 3.1.7.
func (c *Core) SetVotes(nodeID, votes uint32) (cs.Error, []Action) {
	n := c.find(nodeID)
	if n == nil {
		return cs.ErrNameNotFound, nil
	}
	saved := n.votes
	n.votes = votes
	q, total := c.calculateQuorum(true, 0)
	if q < total/2 || q > total {
		n.votes = saved
		return cs.ErrInvalidParam, nil
	}
	c.mcast(Reconfigure{NodeID: nodeID, Value: votes, Param: ParamNodeVotes})
	return cs.OK, c.take()
}

// QdeviceRegister is votequorum_qdevice_register. pending true means the
// answer comes later as QdeviceRegisterReply (when our QDEVICE_REG is
// delivered); otherwise err is the answer now.
func (c *Core) QdeviceRegister(name string) (err cs.Error, pending bool, acts []Action) {
	if !c.qdevCanOperate {
		c.logf(hclog.Info, "Registration of quorum device is disabled by incorrect corosync.conf. See logs for more information")
		return cs.ErrAccess, false, c.take()
	}
	if c.us.flags&FlagQdeviceRegistered != 0 {
		if name == c.qdevName {
			return cs.OK, false, nil
		}
		c.logf(hclog.Warn, "A new qdevice with different name (new: %s old: %s) is trying to re-register!", name, c.qdevName)
		return cs.ErrExist, false, c.take()
	}
	if c.qdevRegPending {
		c.logf(hclog.Warn, "Registration request already in progress")
		return cs.ErrTryAgain, false, c.take()
	}
	c.qdevRegPending = true
	c.mcast(QdeviceReg{Operation: OpRegister, Name: name})
	return cs.OK, true, c.take()
}

// QdeviceRegisterFailed forgets a pending registration whose QDEVICE_REG
// the ring refused (corosync answers CS_ERR_TRY_AGAIN then).
func (c *Core) QdeviceRegisterFailed() { c.qdevRegPending = false }

func (c *Core) registered() bool { return c.us.flags&FlagQdeviceRegistered != 0 }

// QdeviceUnregister is votequorum_qdevice_unregister.
func (c *Core) QdeviceUnregister(name string) (cs.Error, []Action) {
	if !c.registered() {
		return cs.ErrNotExist, nil
	}
	if name != c.qdevName {
		return cs.ErrInvalidParam, nil
	}
	if c.qdevTimer.set {
		c.qdevTimer.set = false
		c.endSyncWait()
	}
	c.us.flags &^= FlagQdeviceRegistered | FlagQdeviceAlive | FlagQdeviceCastVote | FlagQdeviceMasterWins
	c.sendNodeInfo(c.id)
	c.mcast(QdeviceReg{Operation: OpUnregister, Name: name})
	c.check()
	return cs.OK, c.take()
}

// QdeviceUpdate is votequorum_qdevice_update (rename).
func (c *Core) QdeviceUpdate(oldName, newName string) (cs.Error, []Action) {
	if !c.registered() {
		return cs.ErrNotExist, nil
	}
	if oldName != c.qdevName {
		return cs.ErrInvalidParam, nil
	}
	c.mcast(QdeviceReconfigure{OldName: oldName, NewName: newName})
	return cs.OK, c.take()
}

// QdevicePoll is votequorum_qdevice_poll.
func (c *Core) QdevicePoll(name string, castVote bool, ring RingID) (cs.Error, []Action) {
	if !c.qdevCanOperate {
		return cs.ErrAccess, nil
	}
	if !c.registered() {
		return cs.ErrNotExist, nil
	}
	if ring != c.ring {
		c.logf(hclog.Debug, "Received poll ring id (%x.%x) != last sync ring id (%x.%x). Ignoring poll call.",
			ring.NodeID, ring.Seq, c.ring.NodeID, c.ring.Seq)
		return cs.ErrMessageError, c.take()
	}
	if name != c.qdevName {
		return cs.ErrInvalidParam, nil
	}
	old := c.us.flags
	c.us.flags |= FlagQdeviceAlive
	if castVote {
		c.us.flags |= FlagQdeviceCastVote
	} else {
		c.us.flags &^= FlagQdeviceCastVote
	}
	if c.us.flags != old {
		c.sendNodeInfo(c.id)
	}
	c.qdevTimer = timer{set: true, at: c.now + c.qdevTimeout}
	c.endSyncWait()
	return cs.OK, c.take()
}

// QdeviceMasterWins is votequorum_qdevice_master_wins.
func (c *Core) QdeviceMasterWins(name string, allow bool) (cs.Error, []Action) {
	if !c.qdevCanOperate {
		return cs.ErrAccess, nil
	}
	if !c.registered() {
		return cs.ErrNotExist, nil
	}
	if name != c.qdevName {
		return cs.ErrInvalidParam, nil
	}
	old := c.us.flags
	if allow {
		c.us.flags |= FlagQdeviceMasterWins
	} else {
		c.us.flags &^= FlagQdeviceMasterWins
	}
	if c.us.flags != old {
		c.sendNodeInfo(c.id)
	}
	c.qdevMasterWins = allow
	c.set("runtime.votequorum.qdevice_master_wins", b2u8(allow))
	return cs.OK, c.take()
}

// CancelWaitForAll is what a write of quorum.cancel_wait_for_all >= 1
// does: reset the key and multicast RECONFIGURE(CANCEL_WFA).
func (c *Core) CancelWaitForAll() []Action {
	c.set("quorum.cancel_wait_for_all", uint8(0))
	c.mcast(Reconfigure{NodeID: c.id, Param: ParamCancelWFA})
	return c.take()
}

// Reload is votequorum_refresh_config after a change under quorum. or
// nodelist. (the driver skips it while a totem reload is in progress and
// after a failed one): re-read the runtime options, then multicast
// NODEINFO(us), NODEINFO(0) and RECONFIGURE for changed votes / expected.
func (c *Core) Reload(cfg Config) []Action {
	oldVotes, oldExpected := c.us.votes, c.us.expected
	c.readConfig(cfg, true)
	c.sendNodeInfo(c.id)
	c.sendNodeInfo(0)
	if c.us.votes != oldVotes {
		c.mcast(Reconfigure{NodeID: c.id, Value: c.us.votes, Param: ParamNodeVotes})
	}
	if c.us.expected != oldExpected {
		c.mcast(Reconfigure{NodeID: c.id, Value: c.us.expected, Param: ParamExpectedVotes})
	}
	c.check()
	return c.take()
}

// Leave is votequorum_exec_exit: with allow_downscale, set LEAVING and
// tell the others.
func (c *Core) Leave() []Action {
	if c.allowDownscale {
		c.us.flags |= FlagLeaving
		c.sendNodeInfo(c.id)
	}
	return c.take()
}

// --- queries ---

// Info flags of votequorum_getinfo.
const (
	InfoTwoNode           = 1
	InfoQuorate           = 2
	InfoWaitForAll        = 4
	InfoLastManStanding   = 8
	InfoAutoTieBreaker    = 16
	InfoAllowDownscale    = 32
	InfoQdeviceRegistered = 64
	InfoQdeviceAlive      = 128
	InfoQdeviceCastVote   = 256
	InfoQdeviceMasterWins = 512
)

// Info is votequorum_getinfo's answer.
type Info struct {
	NodeID          uint32
	State           State
	Votes           uint32
	ExpectedVotes   uint32
	HighestExpected uint32
	TotalVotes      uint32
	Quorum          uint32
	Flags           uint32
	QdeviceVotes    uint32
	QdeviceName     string
}

// Info answers getinfo(nodeID); 0 means the local node. Unknown ids are
// CS_ERR_NOT_EXIST.
func (c *Core) Info(nodeID uint32) (Info, cs.Error) {
	if nodeID == 0 {
		nodeID = c.id
	}
	n := c.find(nodeID)
	if n == nil {
		return Info{}, cs.ErrNotExist
	}
	var highest, total uint32
	for _, o := range c.list {
		if o.state == Member {
			highest = max(highest, o.expected)
			total += o.votes
		}
	}
	if n.flags&FlagQdeviceCastVote != 0 {
		total += c.qdev.votes
	}
	in := Info{NodeID: n.id, State: n.state, Votes: n.votes, ExpectedVotes: n.expected,
		HighestExpected: highest, TotalVotes: total, Quorum: uint32(c.quorum),
		QdeviceVotes: c.qdev.votes, QdeviceName: c.qdevName}
	for _, f := range []struct {
		on  bool
		bit uint32
	}{
		{c.twoNode, InfoTwoNode}, {c.quorate, InfoQuorate}, {c.wfa, InfoWaitForAll},
		{c.lms, InfoLastManStanding}, {c.atb != ATBNone, InfoAutoTieBreaker},
		{c.allowDownscale, InfoAllowDownscale},
		{n.flags&FlagQdeviceRegistered != 0, InfoQdeviceRegistered},
		{n.flags&FlagQdeviceAlive != 0, InfoQdeviceAlive},
		{n.flags&FlagQdeviceCastVote != 0, InfoQdeviceCastVote},
		{n.flags&FlagQdeviceMasterWins != 0, InfoQdeviceMasterWins},
	} {
		if f.on {
			in.Flags |= f.bit
		}
	}
	return in, cs.OK
}

// Nodes is the QUORUM_NOTIFICATION node list: every record in list order,
// then {0, device record state (always 0 in 3.1.7)} when the local device
// is registered.
func (c *Core) Nodes() []NodeState {
	out := make([]NodeState, 0, len(c.list)+1)
	for _, n := range c.list {
		out = append(out, NodeState{NodeID: n.id, State: n.state})
	}
	if c.registered() {
		out = append(out, NodeState{NodeID: 0, State: c.qdev.state})
	}
	return out
}

// Quorate is cluster_is_quorate.
func (c *Core) Quorate() bool { return c.quorate }

// Members is the quorum view list (the members of the last sync).
func (c *Core) Members() []uint32 { return slices.Clone(c.members) }

// Ring is the ring id of the last sync.
func (c *Core) Ring() RingID { return c.ring }

// NodeID is this node's id.
func (c *Core) NodeID() uint32 { return c.id }

// WaitingForAll reports wait_for_all_status.
func (c *Core) WaitingForAll() bool { return c.wfa && c.wfaStatus }

// QdeviceCanOperate reports qdevice_can_operate.
func (c *Core) QdeviceCanOperate() bool { return c.qdevCanOperate }
