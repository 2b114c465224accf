package cpg

import (
	"fmt"

	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// Deliver is one cpg ring message in agreed order (exec header first),
// from node from; swapped is the delivery's byte-order flag. A message
// that cannot be decoded is rejected with an error and changes nothing.
func (c *Core) Deliver(from uint32, msg []byte, swapped bool) error {
	m, err := cpgmsg.Decode(msg, swapped)
	if err != nil {
		c.stats.Malformed++
		return fmt.Errorf("cpg: message from node %d: %w", from, err)
	}
	switch m := m.(type) {
	case cpgmsg.ProcJoin:
		c.ownDelivered(from, true, m.Group, m.PID)
		c.roundProc(from, true, m.Group, m.PID)
		c.procJoin(from, m.Group, m.PID)
	case cpgmsg.ProcLeave:
		c.ownDelivered(from, false, m.Group, m.PID)
		c.roundProc(from, false, m.Group, m.PID)
		c.procLeave(from, m.Group, m.PID, Reason(m.Reason))
	case cpgmsg.JoinList:
		c.joinList(from, m)
	case cpgmsg.Downlist:
		// 3.1.7 only logs it: every node applies its own downlist.
		if c.round == nil {
			c.stats.OutOfRound++
		}
	case cpgmsg.DownlistOld:
		c.stats.DownlistOld++
		c.warn("DOWNLIST_OLD from node %d ignored", from)
	case cpgmsg.Mcast:
		c.mcast(from, m)
	case cpgmsg.PartialMcast:
		c.partial(from, m)
	}
	return nil
}

// ownDelivered pops one of our own PROCJOIN/PROCLEAVE. A message of ours
// we do not remember was sent by an earlier cpgd on this node: applied like
// any other, with a warning.
func (c *Core) ownDelivered(from uint32, join bool, group string, pid uint32) {
	if from != c.self {
		return
	}
	for i, op := range c.pendingOwn {
		if op.join == join && op.group == group && op.pid == pid {
			if i != 0 {
				c.warn("own %s of pid %d to %s delivered out of order", kind(join), pid, Printable(group))
			}
			c.pendingOwn = append(c.pendingOwn[:i], c.pendingOwn[i+1:]...)
			return
		}
	}
	c.warn("own %s of pid %d to %s was not sent by this cpgd", kind(join), pid, Printable(group))
}

func kind(join bool) string {
	if join {
		return "PROCJOIN"
	}
	return "PROCLEAVE"
}

// procJoin is corosync's do_proc_join for a delivered PROCJOIN.
func (c *Core) procJoin(node uint32, group string, pid uint32) {
	if c.findProc(group, node, pid) >= 0 {
		return
	}
	c.insertProc(proc{group: group, node: node, pid: pid})
	c.notify(group, []Address{{NodeID: node, PID: pid, Reason: ReasonJoin}}, nil)
}

// procLeave is corosync's do_proc_leave for a delivered PROCLEAVE, except
// that a process not in the list produces no confchg (3.1.7 sends one
// naming a process the members never saw).
func (c *Core) procLeave(node uint32, group string, pid uint32, reason Reason) {
	if c.findProc(group, node, pid) < 0 {
		c.stats.UnknownProcLeav++
		return
	}
	c.notify(group, nil, []Address{{NodeID: node, PID: pid, Reason: reason}})
	c.removeProc(group, node, pid)
}

// mcast delivers a MCAST to the group's local members, if the sender's
// node has a process in the group ("Unknown node -> we will not deliver
// message" otherwise, as 3.1.7).
func (c *Core) mcast(from uint32, m cpgmsg.Mcast) {
	known := c.nodeInGroup(m.Group, from)
	c.eachConn(func(k *conn) {
		if k.group != m.Group || (k.state != joinCompleted && k.state != leaveStarted) {
			return
		}
		if !known {
			c.stats.UnknownSender++
			return
		}
		c.emit(DeliverEvent{Conn: k.id, Group: m.Group, NodeID: from, PID: m.PID, Data: m.Data})
	})
}

// partial delivers one fragment. Beyond 3.1.7, each connection only gets
// fragments that continue a consistent sequence from the same sender
// (libcpg 3.1.7 copies them without bounds checks, addendum §3.7).
func (c *Core) partial(from uint32, m cpgmsg.PartialMcast) {
	known := c.nodeInGroup(m.Group, from)
	s := sender{from, m.PID}
	flen := uint32(len(m.Data))
	c.eachConn(func(k *conn) {
		if k.group != m.Group || (k.state != joinCompleted && k.state != leaveStarted) {
			return
		}
		if !known {
			c.stats.UnknownSender++
			return
		}
		a, ok := k.assembly[s]
		switch PartialType(m.Type) {
		case PartialFirst:
			a, ok = assembly{msglen: m.MsgLen}, true
		case PartialContinued, PartialLast:
			if !ok || a.msglen != m.MsgLen {
				ok = false
			}
		}
		if ok {
			a.got += flen
			last := PartialType(m.Type) == PartialLast
			if a.got > a.msglen || (last && a.got != a.msglen) {
				ok = false
			}
		}
		if !ok {
			c.stats.BadFragments++
			delete(k.assembly, s)
			c.warn("fragment %d of %d bytes from node %d pid %d withheld from connection %d: out of sequence", m.Type, flen, from, m.PID, k.id)
			return
		}
		if PartialType(m.Type) == PartialLast {
			delete(k.assembly, s)
		} else {
			if k.assembly == nil {
				k.assembly = map[sender]assembly{}
			}
			k.assembly[s] = a
		}
		c.emit(PartialDeliverEvent{Conn: k.id, Group: m.Group, NodeID: from, PID: m.PID, MsgLen: m.MsgLen, Type: PartialType(m.Type), Data: m.Data})
	})
}
