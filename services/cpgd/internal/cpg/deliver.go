package cpg

import (
	"cmp"
	"fmt"
	"slices"

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
	case cpgmsg.ProcJoin, cpgmsg.ProcLeave:
		c.landed(from, m)
	}
	switch m := m.(type) {
	case cpgmsg.ProcJoin:
		c.roundProc(from, true, m.Group, m.PID)
		c.procJoin(from, m.Group, m.PID)
	case cpgmsg.ProcLeave:
		c.roundProc(from, false, m.Group, m.PID)
		c.procLeave(from, m.Group, m.PID, Reason(m.Reason))
	case cpgmsg.JoinList:
		c.joinList(from, m)
	case cpgmsg.Downlist:
		// 3.1.7 only logs it: every node applies its own downlist.
		c.downList(from)
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

// landed forgets one of our own PROCJOIN/PROCLEAVE once delivered. One
// we did not send (an earlier cpgd on this node did) is just applied.
func (c *Core) landed(from uint32, m cpgmsg.Message) {
	if from != c.self {
		return
	}
	var op roundOp
	switch m := m.(type) {
	case cpgmsg.ProcJoin:
		op = roundOp{join: true, group: m.Group, pid: m.PID}
	case cpgmsg.ProcLeave:
		op = roundOp{group: m.Group, pid: m.PID}
	}
	if i := slices.Index(c.own, op); i >= 0 {
		c.own = slices.Delete(c.own, i, i+1)
	}
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
		c.stats.UnknownProcLeave++
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

// partial delivers one fragment. Beyond 3.1.7:
//   - fragments are only delivered in a consistent sequence (FIRST,
//     CONTINUED…, LAST adding up to msglen): libcpg 3.1.7 copies them
//     without bounds checks (addendum §3.7);
//   - a process whose join completes while a message of its group is in
//     progress first gets that message's earlier fragments (replayed after
//     its join confchg), so it delivers the message in the same view as the
//     older members. 3.1.7 sends it only the later fragments, its libcpg
//     drops them, and the view is not virtually synchronous;
//   - a sync round cuts every message in progress: the rest is withheld
//     from every member on every node alike (nodes that merged in never had
//     the first fragments). Its sender gets CS_ERR_INTERRUPT for fragments
//     it sends after the round reached it; fragments already on their way
//     are lost, as in 3.1.7 where the receivers' libcpg drop them.
func (c *Core) partial(from uint32, m cpgmsg.PartialMcast) {
	key := asmKey{group: m.Group, node: from, pid: m.PID}
	flen := uint32(len(m.Data))
	typ := PartialType(m.Type)
	a, ok := c.asm[key]
	switch typ {
	case PartialFirst:
		a, ok = assembly{msglen: m.MsgLen}, true
	default:
		ok = ok && a.msglen == m.MsgLen
	}
	if ok {
		a.got += flen
		ok = a.got <= a.msglen && (typ != PartialLast || a.got == a.msglen)
	}
	if !ok {
		delete(c.asm, key)
		c.stats.BadFragments++
		c.warn("fragment (type %d, %d bytes) from node %d pid %d to %s withheld: out of sequence or cut by a configuration change", m.Type, flen, from, m.PID, Printable(m.Group))
		return
	}
	if typ == PartialLast {
		delete(c.asm, key)
	} else {
		if !a.overflow {
			if uint64(a.got) > MaxReplayBytes {
				a.frags, a.overflow = nil, true
			} else {
				a.frags = append(a.frags, fragment{typ: typ, data: m.Data})
			}
		}
		c.asm[key] = a
	}
	known := c.nodeInGroup(m.Group, from)
	c.eachConn(func(k *conn) {
		if k.group != m.Group || (k.state != joinCompleted && k.state != leaveStarted) {
			return
		}
		if !known {
			c.stats.UnknownSender++
			return
		}
		c.emit(PartialDeliverEvent{Conn: k.id, Group: m.Group, NodeID: from, PID: m.PID, MsgLen: m.MsgLen, Type: typ, Data: m.Data})
	})
}

// replayFragments sends the connections whose join just completed the
// fragments so far of every message of group in progress. A join (of any
// node's process, so that every node decides alike) cuts a message too big
// to replay.
func (c *Core) replayFragments(group string, joined []Address, fresh []*conn) {
	if len(joined) == 0 {
		return
	}
	keys := make([]asmKey, 0, len(c.asm))
	for k := range c.asm {
		if k.group == group {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b asmKey) int { return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.pid, b.pid)) })
	for _, key := range keys {
		a := c.asm[key]
		if a.overflow {
			delete(c.asm, key)
			c.warn("message of %d bytes from node %d pid %d to %s cut: a process joined before its end", a.msglen, key.node, key.pid, Printable(group))
			continue
		}
		for _, k := range fresh {
			for _, f := range a.frags {
				c.emit(PartialDeliverEvent{Conn: k.id, Group: group, NodeID: key.node, PID: key.pid, MsgLen: a.msglen, Type: f.typ, Data: f.data})
			}
		}
	}
}

// cutFragments forgets the partial messages of group (all groups when
// all) in progress.
func (c *Core) cutFragments(group string, all bool) {
	for k := range c.asm {
		if all || k.group == group {
			delete(c.asm, k)
		}
	}
}
