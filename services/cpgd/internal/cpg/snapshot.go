package cpg

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/snapcodec"
)

// A cpgd that restarts on purpose hands its core to its successor
// (libs/ipcproto's doc, "Handing a daemon over to its successor"): the
// daemon waits until Quiet, sends Snapshot's bytes through totemd, and the
// successor goes on with Restore's core, so that neither the clients nor
// the other nodes notice. Only a quiet core is handed over: a sync round in
// progress, held ring messages and own PROCJOIN/PROCLEAVE on their way are
// tied to the predecessor's bus session (its sync steps, its multicast
// acks), which the successor does not inherit. What is left is plain data,
// and the snapshot holds all of it, so the successor's core behaves as
// the predecessor's would have: same outputs for the same inputs
// (snapshot_test.go checks it output for output, cpgcheck in random
// histories).

// snapshotMagic begins every snapshot: bytes that are not one are refused
// before anything else is read.
const snapshotMagic = "CPGcore\x00"

// snapshotVersion is the layout Snapshot writes. Restore reads this one
// only: a successor that does not know its predecessor's layout refuses
// it rather than guess, and the daemon starts afresh. Bump it with any
// change to what is encoded (TestSnapshotCoversCore fails when the core
// gains a field the snapshot does not know about).
const snapshotVersion = 1

// Quiet reports whether the core can be handed over now: no sync round in
// progress and not holding ring messages (a round has activated since the
// last attach), no held messages, nothing of its own (PROCJOIN/PROCLEAVE)
// sent and not yet delivered, and Ready drained. If not, why (for a log
// line). The client multicasts it sent are the adapter's to track: the
// core keeps no state for them.
func (c *Core) Quiet() (bool, string) {
	switch {
	case c.round != nil:
		return false, fmt.Sprintf("sync round %d in progress", c.round.r.ID)
	case c.hold:
		return false, "holding ring messages until a sync round activates"
	case len(c.held) > 0:
		return false, fmt.Sprintf("%d ring messages held", len(c.held))
	case len(c.own) > 0:
		return false, fmt.Sprintf("%d own PROCJOIN/PROCLEAVE not delivered yet", len(c.own))
	case len(c.missed) > 0:
		return false, fmt.Sprintf("%d own PROCJOIN/PROCLEAVE taken by the ring while detached, not yet counted by a round", len(c.missed))
	case c.HasReady():
		return false, fmt.Sprintf("Ready not drained (%d multicasts, %d events)", len(c.out.Mcasts), len(c.out.Events))
	}
	return true, ""
}

// Snapshot encodes the whole state of a quiet core (an error naming why
// if it is not quiet): process list, connections with their state, group,
// pid, flags, finalization, initial totem confchg, transition counters and
// open iterators, fragmented messages in progress with their kept
// fragments, the last activated member list and sync ring, the JOINLIST
// stamp counter and 3.1.7's kept JOINLISTs, the iterator handle counter
// and the stats. Not the Config: the successor brings its own. Maps are
// written in sorted order, so one state has one encoding.
func (c *Core) Snapshot() ([]byte, error) {
	if ok, why := c.Quiet(); !ok {
		return nil, fmt.Errorf("cpg: snapshot: core not quiet: %s", why)
	}
	e := snapcodec.NewEnc([]byte(snapshotMagic))
	e.UV(snapshotVersion)
	e.U32(c.self)
	e.UV(c.nextIt)
	e.UV(c.stamp)
	e.U32(c.lastSyncRing.Rep)
	e.UV(c.lastSyncRing.Seq)
	e.Count(len(c.oldMembers))
	for _, n := range c.oldMembers {
		e.U32(n)
	}
	e.Count(len(c.procs))
	for _, p := range c.procs {
		e.Str(p.group)
		e.U32(p.node)
		e.U32(p.pid)
	}
	e.Count(len(c.conns))
	for _, k := range c.conns {
		encodeConn(e, k)
	}
	keys := slices.SortedFunc(maps.Keys(c.asm), compareAsmKey)
	e.Count(len(keys))
	for _, key := range keys {
		a := c.asm[key]
		e.Str(key.group)
		e.U32(key.node)
		e.U32(key.pid)
		e.U32(a.msglen)
		e.U32(a.got)
		e.Flag(a.overflow)
		e.Count(len(a.frags))
		for _, f := range a.frags {
			e.U32(uint32(f.typ))
			e.Data(f.data)
		}
	}
	e.Flag(c.kept317 != nil)
	nodes := slices.Sorted(maps.Keys(c.kept317))
	e.Count(len(nodes))
	for _, n := range nodes {
		e.U32(n)
		j := c.kept317[n]
		e.Count(len(j.entries))
		for _, s := range j.entries {
			e.Str(s.group)
			e.U32(s.pid)
			e.UV(s.stamp)
		}
	}
	for _, v := range statFields(&c.stats) {
		e.UV(*v)
	}
	return e.Bytes(), nil
}

func encodeConn(e *snapcodec.Enc, k *conn) {
	e.UV(uint64(k.id))
	e.UV(uint64(k.state))
	e.Str(k.group)
	e.U32(k.pid)
	e.U32(k.flags)
	e.Flag(k.finalized)
	e.Flag(k.initialTotemSent)
	e.UV(k.transition)
	e.UV(k.fragStart)
	handles := slices.Sorted(maps.Keys(k.iters))
	e.Count(len(handles))
	for _, h := range handles {
		it := k.iters[h]
		e.UV(h)
		e.UV(uint64(it.next))
		e.Count(len(it.items))
		for _, x := range it.items {
			e.Str(x.Group)
			e.U32(x.NodeID)
			e.U32(x.PID)
		}
	}
}

// compareAsmKey orders fragmented messages in the snapshot: by group, then
// sender node and pid.
func compareAsmKey(a, b asmKey) int {
	return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.node, b.node), cmp.Compare(a.pid, b.pid))
}

// statFields lists the counters of s in their snapshot order, for both
// directions.
func statFields(s *Stats) []*uint64 {
	return []*uint64{&s.Malformed, &s.UnknownSender, &s.BadFragments, &s.DownlistOld, &s.OutOfRound, &s.HeldMcasts, &s.MembersCapped, &s.UnknownProcLeave}
}
