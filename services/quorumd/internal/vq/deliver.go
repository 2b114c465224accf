package vq

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Deliver handles one ring message of service 5 from node from, in agreed
// order (the sender's own messages included). swapped says the sender's
// byte order differs from ours. A malformed message, or one corosync would
// crash on (NODEINFO(0) from a sender we have no record of, a full node
// table), is an error and changes nothing.
func (c *Core) Deliver(from uint32, payload []byte, swapped bool) ([]Action, error) {
	m, err := Decode(payload, swapped)
	if err != nil {
		return nil, fmt.Errorf("from node %d: %w", from, err)
	}
	return c.DeliverMessage(from, m)
}

// DeliverMessage is Deliver for an already decoded message.
func (c *Core) DeliverMessage(from uint32, m Message) ([]Action, error) {
	var err error
	switch m := m.(type) {
	case NodeInfo:
		err = c.nodeInfo(from, m)
	case Reconfigure:
		c.reconfigure(from, m)
	case QdeviceReg:
		c.qdeviceReg(from, m)
	case QdeviceReconfigure:
		c.logf(hclog.Debug, "Received qdevice name change req from node %d [from: %s to: %s]", from, m.OldName, m.NewName)
		if m.OldName == c.qdevName {
			c.logf(hclog.Debug, "Allowing qdevice rename")
			c.qdevName = m.NewName
		}
	default:
		err = fmt.Errorf("votequorum: message type %T", m)
	}
	if from == c.id && c.sent > 0 {
		c.sent-- // one of ours came back (an error included: it is here)
	}
	if err != nil {
		c.out = nil
		return nil, err
	}
	c.check()
	return c.take(), nil
}

func decodeFlags(f uint32) string {
	yn := func(b uint32) string {
		if f&b != 0 {
			return "Yes"
		}
		return "No"
	}
	return fmt.Sprintf("flags: quorate: %s Leaving: %s WFA Status: %s First: %s Qdevice: %s QdeviceAlive: %s QdeviceCastVote: %s QdeviceMasterWins: %s",
		yn(FlagQuorate), yn(FlagLeaving), yn(FlagWFAStatus), yn(FlagFirst), yn(FlagQdeviceRegistered),
		yn(FlagQdeviceAlive), yn(FlagQdeviceCastVote), yn(FlagQdeviceMasterWins))
}

// nodeInfo is message_handler_req_exec_votequorum_nodeinfo.
func (c *Core) nodeInfo(from uint32, m NodeInfo) error {
	if m.NodeID == 0 && c.find(from) == nil {
		// 3.1.7 asserts here and aborts (addendum §1.1, upstream #63).
		return fmt.Errorf("votequorum NODEINFO(0) from node %d before any NODEINFO of that node: ignored (corosync 3.1.7 would abort)", from)
	}
	n := c.find(m.NodeID)
	isNew := false
	if n == nil {
		if n = c.allocate(m.NodeID); n == nil {
			return fmt.Errorf("votequorum NODEINFO from node %d about node %d: node table full (%d records, none dead)", from, m.NodeID, maxRecords)
		}
		isNew = true
	}
	c.logf(hclog.Debug, "got nodeinfo message from cluster node %d", from)
	c.logf(hclog.Debug, "nodeinfo message[%d]: votes: %d, expected: %d flags: %d", m.NodeID, m.Votes, m.ExpectedVotes, m.Flags)
	if m.NodeID != 0 {
		if c.logs(hclog.Debug) {
			c.logf(hclog.Debug, "%s", decodeFlags(m.Flags))
		}
	}
	var oldVotes, oldExpected, oldFlags uint32
	oldState := Dead
	if !isNew {
		oldVotes, oldExpected, oldFlags, oldState = n.votes, n.expected, n.flags, n.state
	}
	allowDecrease, byNode := false, false
	if m.NodeID == 0 {
		sender := c.find(from)
		if !c.quorate && sender.flags&FlagQuorate != 0 {
			n.votes = m.Votes
		} else {
			n.votes = max(n.votes, m.Votes)
		}
	} else {
		n.flags = m.Flags
		n.votes = m.Votes
		n.state = Member
		if n.flags&FlagLeaving != 0 {
			n.state = Leaving
			allowDecrease, byNode = true, true
		}
		if !c.quorate && n.flags&FlagQuorate != 0 {
			allowDecrease = true
			c.us.expected = m.ExpectedVotes
		}
		if n.flags&FlagQuorate != 0 || c.evTracking {
			n.expected = m.ExpectedVotes
		} else {
			n.expected = c.us.expected
		}
		if c.lms && n.votes > 1 {
			c.logf(hclog.Warn, "Last Man Standing feature is supported only when allcluster nodes votes are set to 1. Disabling LMS.")
			c.lms = false
			c.lmsTimer.set = false
		}
	}
	if isNew || m.NodeID == c.id || n.flags&FlagFirst != 0 || oldVotes != n.votes ||
		oldExpected != n.expected || oldFlags != n.flags || oldState != n.state {
		c.recalculate(allowDecrease, byNode)
	}
	if c.wfa && n.flags&FlagWFAStatus == 0 && n.flags&FlagQuorate != 0 {
		c.setWFAStatus(false)
	}
	return nil
}

// reconfigure is message_handler_req_exec_votequorum_reconfigure.
func (c *Core) reconfigure(from uint32, m Reconfigure) {
	c.logf(hclog.Debug, "got reconfigure message from cluster node %d for %d", from, m.NodeID)
	switch m.Param {
	case ParamExpectedVotes:
		c.updateNodeExpected(m.Value)
		c.logf(hclog.Debug, "Sending expected votes callback")
		c.emit(ExpectedVotesNotify{Expected: c.us.expected})
		c.evBarrier = m.Value
		c.set("runtime.votequorum.ev_barrier", m.Value)
		if c.evTracking {
			c.us.expected = max(c.us.expected, c.evTrackingBarrier)
		}
		c.recalculate(true, false)
	case ParamNodeVotes:
		n := c.find(m.NodeID)
		if n == nil {
			return
		}
		n.votes = m.Value
		c.recalculate(true, false)
	case ParamCancelWFA:
		c.setWFAStatus(false)
		c.logf(hclog.Info, "wait_for_all_status reset by user on node %d.", m.NodeID)
		c.recalculate(false, false)
	}
}

// qdeviceReg is message_handler_req_exec_votequorum_qdevice_reg.
func (c *Core) qdeviceReg(from uint32, m QdeviceReg) {
	c.logf(hclog.Debug, "Received qdevice op %d req from node %d [%s]", m.Operation, from, m.Name)
	switch m.Operation {
	case OpRegister:
		if from != c.id {
			if c.qdevName == "" {
				c.logf(hclog.Debug, "Remote qdevice name recorded")
				c.qdevName = m.Name
			}
			return
		}
		if c.us.flags&FlagQdeviceRegistered != 0 {
			return
		}
		if !c.qdevRegPending {
			c.logf(hclog.Warn, "Unable to determine origin of the qdevice register call!")
			return
		}
		if c.qdevName == "" {
			c.qdevName = m.Name
		}
		err := cs.OK
		if m.Name == c.qdevName {
			c.us.flags |= FlagQdeviceRegistered
			c.sendNodeInfo(0)
			c.sendNodeInfo(c.id)
		} else {
			c.logf(hclog.Warn, "A new qdevice with different name (new: %s old: %s) is trying to register!", m.Name, c.qdevName)
			err = cs.ErrExist
		}
		c.emit(QdeviceRegisterReply{Err: err})
		c.qdevRegPending = false
	case OpUnregister:
		wipe := true
		for _, n := range c.list {
			if n.state == Member && n.flags&FlagQdeviceRegistered != 0 {
				wipe = false
			}
		}
		if wipe {
			c.qdevName = ""
		}
	}
}
