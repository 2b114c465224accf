package cpg

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// Connect registers a new client connection (corosync's lib_init_fn).
func (c *Core) Connect(id ConnID) error {
	if _, ok := c.byID[id]; ok {
		return fmt.Errorf("cpg: connect: connection %d already exists", id)
	}
	k := &conn{id: id}
	c.byID[id] = k
	c.conns = append(c.conns, k)
	return nil
}

func (c *Core) conn(id ConnID) *conn {
	k := c.byID[id]
	if k == nil {
		// The adapter only passes ids it connected: a broken invariant.
		panic(fmt.Sprintf("cpg: unknown connection %d", id))
	}
	return k
}

// Join is cpg_join (MESSAGE_REQ_CPG_JOIN): the reply's status. On CS_OK a
// PROCJOIN is queued; the join completes when its confchg is generated.
// A group already holding MaxGroupMembers processes refuses the join with
// CS_ERR_NO_RESOURCES (needle; 3.1.7 accepts it and libcpg overflows its
// 128-entry arrays, spec/cpg.md §11).
func (c *Core) Join(id ConnID, group string, pid, flags uint32) cs.Error {
	k := c.conn(id)
	// Finalized connections count too (3.1.7 skips them): they keep their
	// membership until they disconnect, and their PROCLEAVE would end the
	// new connection's.
	for _, o := range c.conns {
		if o.state != unjoined && o.pid == pid && o.group == group {
			return cs.ErrExist
		}
	}
	if c.findProc(group, c.self, pid) >= 0 || c.ownPending(group, pid) {
		// A leave of the same process is not delivered yet. Needle also
		// waits for any PROCJOIN/PROCLEAVE of that group and pid still on
		// its way (3.1.7 does not: a second connection of the same pid
		// would take the first one's join and leave for its own).
		return cs.ErrTryAgain
	}
	if len(group) > MaxNameLength {
		return cs.ErrNameTooLong
	}
	switch k.state {
	case leaveStarted:
		return cs.ErrBusy
	case joinStarted, joinCompleted:
		return cs.ErrExist
	}
	if c.groupSize(group) >= MaxGroupMembers {
		c.stats.MembersCapped++
		c.warn("refusing join of pid %d to group %s: it has %d members already", pid, Printable(group), MaxGroupMembers)
		return cs.ErrNoResources
	}
	k.state = joinStarted
	k.pid = pid
	k.flags = flags
	k.group = group
	c.sendProc(true, group, pid, uint32(ReasonJoin))
	return cs.OK
}

// sendProc queues a PROCJOIN or PROCLEAVE.
func (c *Core) sendProc(join bool, group string, pid, reason uint32) {
	c.own = append(c.own, roundOp{join: join, group: group, pid: pid})
	if join {
		c.send(cpgmsg.ProcJoin{Group: group, PID: pid, Reason: reason})
	} else {
		c.send(cpgmsg.ProcLeave{Group: group, PID: pid, Reason: reason})
	}
}

// Leave is cpg_leave (MESSAGE_REQ_CPG_LEAVE): the reply's status. Needle
// leaves the connection's own group and pid; 3.1.7 multicasts whatever
// group and pid the request names without checking them.
func (c *Core) Leave(id ConnID) cs.Error {
	k := c.conn(id)
	switch k.state {
	case unjoined, leaveStarted:
		return cs.ErrNotExist
	case joinStarted:
		return cs.ErrBusy
	}
	k.state = leaveStarted
	c.sendProc(false, k.group, k.pid, uint32(ReasonLeave))
	return cs.OK
}

// Mcast is cpg_mcast_joined (MESSAGE_REQ_CPG_MCAST). Corosync sends no
// reply; the status is for the log ("can't mcast to group"). guarantee is
// ignored: everything is agreed order. On CS_OK the message is queued and
// never dropped.
func (c *Core) Mcast(id ConnID, data []byte) cs.Error {
	k := c.conn(id)
	if k.state != joinStarted && k.state != joinCompleted {
		return cs.ErrNotExist
	}
	c.send(cpgmsg.Mcast{Group: k.group, PID: k.pid, SourceNode: c.self, SourceConn: uint64(id), Data: data})
	return cs.OK
}

// PartialMcast is one fragment of a large message
// (MESSAGE_REQ_CPG_PARTIAL_MCAST): the reply's status. CS_ERR_INTERRUPT
// when a confchg reached the connection since its FIRST fragment.
func (c *Core) PartialMcast(id ConnID, typ PartialType, msglen uint32, frag []byte) cs.Error {
	k := c.conn(id)
	err := cs.OK
	if k.state != joinStarted && k.state != joinCompleted {
		err = cs.ErrNotExist
	}
	if typ == PartialFirst {
		k.fragStart = k.transition
	}
	if k.transition != k.fragStart {
		err = cs.ErrInterrupt
	}
	if err != cs.OK {
		return err
	}
	if typ < PartialFirst || typ > PartialLast || uint64(len(frag)) > uint64(msglen) {
		// libcpg never sends these; receivers would reject the message.
		return cs.ErrInvalidParam
	}
	c.send(cpgmsg.PartialMcast{Group: k.group, MsgLen: msglen, PID: k.pid, Type: uint32(typ), SourceNode: c.self, SourceConn: uint64(id), Data: frag})
	return cs.OK
}

// MembershipGet is cpg_membership_get: the group's processes in list order
// (reason 0); an unknown group has none.
func (c *Core) MembershipGet(group string) []Address {
	var out []Address
	for _, p := range c.procs {
		if p.group == group {
			out = append(out, Address{NodeID: p.node, PID: p.pid})
		}
	}
	return out
}

// LocalGet is cpg_local_get: this node's id.
func (c *Core) LocalGet() uint32 { return c.self }

// IterationInit is cpg_iteration_initialize: a snapshot of the process
// list owned by the connection, and its handle. The order is 3.1.7's (its
// list insertions put a new group first and each later entry of a group
// right after that group's first entry; spec/cpg.md §4.7 describes a
// plainer order that 3.1.7 does not produce).
func (c *Core) IterationInit(id ConnID, typ IterType, group string) (uint64, cs.Error) {
	k := c.conn(id)
	var items []IterEntry
	firstOf := func(g string) int {
		for i, it := range items {
			if it.Group == g {
				return i
			}
		}
		return -1
	}
	for _, p := range c.procs {
		e := IterEntry{Group: p.group, NodeID: p.node, PID: p.pid}
		switch typ {
		case IterNameOnly:
			if firstOf(p.group) >= 0 {
				continue
			}
			e.NodeID, e.PID = 0, 0
		case IterOneGroup:
			if p.group != group {
				continue
			}
		}
		at := firstOf(p.group) + 1 // 0 when the group is new: the front
		items = append(items[:at], append([]IterEntry{e}, items[at:]...)...)
	}
	c.nextIt++
	if k.iters == nil {
		k.iters = map[uint64]*iterator{}
	}
	k.iters[c.nextIt] = &iterator{items: items}
	return c.nextIt, cs.OK
}

// IterationNext is cpg_iteration_next: the next entry, CS_ERR_NO_SECTIONS
// at the end, CS_ERR_LIBRARY for a handle the connection does not own.
func (c *Core) IterationNext(id ConnID, handle uint64) (IterEntry, cs.Error) {
	it := c.conn(id).iters[handle]
	if it == nil {
		return IterEntry{}, cs.ErrLibrary
	}
	if it.next >= len(it.items) {
		return IterEntry{}, cs.ErrNoSections
	}
	it.next++
	return it.items[it.next-1], cs.OK
}

// IterationFinalize is cpg_iteration_finalize.
func (c *Core) IterationFinalize(id ConnID, handle uint64) cs.Error {
	k := c.conn(id)
	if k.iters[handle] == nil {
		return cs.ErrLibrary
	}
	delete(k.iters, handle)
	return cs.OK
}

// Finalize is cpg_finalize: the connection gets no more events. Its group
// membership ends when it disconnects, as in corosync.
func (c *Core) Finalize(id ConnID) cs.Error {
	c.conn(id).finalized = true
	return cs.OK
}

// Disconnect is the end of the connection (corosync's lib_exit_fn): a
// joined process leaves its group with PROCDOWN — also for the zero-length
// name, which 3.1.7 skips (addendum §3.4).
func (c *Core) Disconnect(id ConnID) {
	k := c.conn(id)
	if k.state == joinStarted || k.state == joinCompleted {
		c.sendProc(false, k.group, k.pid, uint32(ReasonProcDown))
	}
	delete(c.byID, id)
	for i, o := range c.conns {
		if o == k {
			c.conns = append(c.conns[:i], c.conns[i+1:]...)
			break
		}
	}
}

// Printable renders a group name as 3.1.7's logs do: printable ASCII as is
// (backslash doubled), anything else as \xHH.
func Printable(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch == '\\':
			b = append(b, '\\', '\\')
		case ch >= 0x20 && ch < 0x7f:
			b = append(b, ch)
		default:
			b = fmt.Appendf(b, "\\x%02X", ch)
		}
	}
	return string(b)
}
