package cpg

import (
	"bytes"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/snapcodec"
)

// Restore rebuilds a core from Snapshot's bytes under cfg (cfg.NodeID must
// match the snapshot's node id). The bytes come from another process, so
// everything is validated: every count is bounded by the bytes left, names
// by MaxNameLength, enumerations by their values, handles by the handle
// counter, fragments by their message; an error names what is wrong and
// where. The restored core passes CheckInvariants and is quiet, and its
// Snapshot is b again.
func Restore(cfg Config, b []byte) (*Core, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return nil, fmt.Errorf("cpg: restore: not a cpg core snapshot (no %q at the start)", snapshotMagic)
	}
	// Only a quiet core was snapshotted: a round has activated, nothing is
	// held (New holds until the first round).
	c.hold = false
	d := snapcodec.NewDec(b, len(snapshotMagic))
	if err := c.restore(d); err != nil {
		return nil, fmt.Errorf("cpg: restore: %w", err)
	}
	if d.Left() != 0 {
		return nil, fmt.Errorf("cpg: restore: %d bytes after the end of the snapshot", d.Left())
	}
	if err := c.CheckInvariants(); err != nil {
		return nil, fmt.Errorf("cpg: restore: the snapshot breaks an invariant: %w", err)
	}
	return c, nil
}

// restore reads everything after the magic, in Snapshot's order.
func (c *Core) restore(d *snapcodec.Dec) error {
	if v := d.UV("version"); d.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("snapshot version %d, this cpgd reads version %d", v, snapshotVersion)
	}
	if n := d.U32("node id"); d.Err() == nil && n != c.self {
		return fmt.Errorf("snapshot of node %d, this is node %d", n, c.self)
	}
	c.nextIt = d.UV("iterator handle counter")
	c.stamp = d.UV("JOINLIST stamp counter")
	c.lastSyncRing.Rep = d.U32("last sync ring representative")
	c.lastSyncRing.Seq = d.UV("last sync ring sequence")
	if n := d.Count("old members", 1); n > 0 {
		c.oldMembers = make([]uint32, n)
		for i := range c.oldMembers {
			c.oldMembers[i] = d.U32("old member")
		}
	}
	if d.Err() != nil {
		return d.Err()
	}
	if n := d.Count("processes", 3); n > 0 {
		c.procs = make([]proc, n)
		for i := range c.procs {
			p := proc{group: d.Str("group", MaxNameLength), node: d.U32("node"), pid: d.U32("pid")}
			if err := d.In("process %d", i); err != nil {
				return err
			}
			c.procs[i] = p
			c.nodeCount[groupNode{p.group, p.node}]++
		}
	}
	if err := c.restoreConns(d); err != nil {
		return err
	}
	if err := c.restoreAsm(d); err != nil {
		return err
	}
	if err := c.restoreKept317(d); err != nil {
		return err
	}
	for _, v := range statFields(&c.stats) {
		*v = d.UV("stats")
	}
	return d.Err()
}

// restoreConns reads the connections in cpg_pd order with their iterators.
func (c *Core) restoreConns(d *snapcodec.Dec) error {
	n := d.Count("connections", 10)
	handles := map[uint64]bool{} // handles are unique across connections
	for i := range n {
		k, err := c.restoreConn(d, handles)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if c.byID[k.id] != nil {
			return fmt.Errorf("connection %d: id %d listed twice", i, k.id)
		}
		c.byID[k.id] = k
		c.conns = append(c.conns, k)
	}
	return d.Err()
}

func (c *Core) restoreConn(d *snapcodec.Dec, handles map[uint64]bool) (*conn, error) {
	k := &conn{id: ConnID(d.UV("id"))}
	st := d.UV("state")
	if d.Err() == nil && st > uint64(leaveStarted) {
		return nil, fmt.Errorf("id %d: state %d, want 0..%d", k.id, st, leaveStarted)
	}
	k.state = connState(st)
	k.group = d.Str("group", MaxNameLength)
	k.pid = d.U32("pid")
	k.flags = d.U32("flags")
	k.finalized = d.Flag("finalized")
	k.initialTotemSent = d.Flag("initial totem confchg sent")
	k.transition = d.UV("transition")
	k.fragStart = d.UV("fragment start")
	if d.Err() == nil && k.fragStart > k.transition {
		return nil, fmt.Errorf("id %d: fragment start %d after transition %d", k.id, k.fragStart, k.transition)
	}
	n := d.Count("iterators", 3)
	prev := uint64(0)
	for i := range n {
		h := d.UV("handle")
		next := d.UV("next")
		m := d.Count("entries", 3)
		it := &iterator{}
		if m > 0 {
			it.items = make([]IterEntry, m)
		}
		for j := range it.items {
			it.items[j] = IterEntry{Group: d.Str("group", MaxNameLength), NodeID: d.U32("node"), PID: d.U32("pid")}
		}
		if err := d.In("id %d: iterator %d", k.id, i); err != nil {
			return nil, err
		}
		switch {
		case h <= prev:
			return nil, fmt.Errorf("id %d: iterator handle %d not above the previous %d", k.id, h, prev)
		case h > c.nextIt:
			return nil, fmt.Errorf("id %d: iterator handle %d not issued yet (counter %d)", k.id, h, c.nextIt)
		case handles[h]:
			return nil, fmt.Errorf("id %d: iterator handle %d owned by another connection too", k.id, h)
		case next > uint64(m):
			return nil, fmt.Errorf("id %d: iterator %d at entry %d of %d", k.id, h, next, m)
		}
		prev, handles[h] = h, true
		it.next = int(next)
		if k.iters == nil {
			k.iters = map[uint64]*iterator{}
		}
		k.iters[h] = it
	}
	return k, d.In("id %d", k.id)
}

// restoreAsm reads the fragmented messages in progress and checks that
// each is what partial would have kept: a FIRST and CONTINUED fragments
// adding up to what arrived, or nothing once over MaxReplayBytes.
func (c *Core) restoreAsm(d *snapcodec.Dec) error {
	n := d.Count("fragmented messages", 7)
	var prev *asmKey
	for i := range n {
		key := asmKey{group: d.Str("group", MaxNameLength), node: d.U32("node"), pid: d.U32("pid")}
		a := assembly{msglen: d.U32("message length"), got: d.U32("bytes so far"), overflow: d.Flag("overflow")}
		m := d.Count("fragments", 2)
		sum := uint64(0)
		for j := range m {
			f := fragment{typ: PartialType(d.U32("fragment type")), data: d.Data("fragment")}
			want := PartialContinued
			if j == 0 {
				want = PartialFirst
			}
			if d.Err() == nil && f.typ != want {
				return fmt.Errorf("fragmented message %d: fragment %d of type %d, want %d", i, j, f.typ, want)
			}
			sum += uint64(len(f.data))
			a.frags = append(a.frags, f)
		}
		if err := d.In("fragmented message %d", i); err != nil {
			return err
		}
		what := fmt.Sprintf("fragmented message %d (node %d pid %d to %s)", i, key.node, key.pid, Printable(key.group))
		switch {
		case prev != nil && compareAsmKey(*prev, key) >= 0:
			return fmt.Errorf("%s: not after the previous one", what)
		case a.got > a.msglen:
			return fmt.Errorf("%s: %d bytes of a %d-byte message", what, a.got, a.msglen)
		case a.overflow && (m > 0 || uint64(a.got) <= MaxReplayBytes):
			return fmt.Errorf("%s: over the replay limit with %d bytes and %d fragments kept", what, a.got, m)
		case !a.overflow && (m == 0 || sum != uint64(a.got)):
			return fmt.Errorf("%s: %d fragments of %d bytes kept, %d bytes arrived", what, m, sum, a.got)
		}
		c.asm[key] = a
		prev = &key
	}
	return d.Err()
}

// restoreKept317 reads the JOINLISTs 3.1.7 keeps across a barrier-phase
// abort; only a core with Keep317AbortBug can have them.
func (c *Core) restoreKept317(d *snapcodec.Dec) error {
	present := d.Flag("kept JOINLISTs")
	n := d.Count("kept JOINLIST senders", 2)
	if d.Err() != nil {
		return d.Err()
	}
	if !present && n > 0 {
		return fmt.Errorf("%d kept JOINLISTs in an absent set", n)
	}
	if present && !c.cfg.Keep317AbortBug {
		return fmt.Errorf("kept JOINLISTs, but this core does not keep 3.1.7's abort bug")
	}
	if present {
		c.kept317 = map[uint32]*joinlist{}
	}
	prev := uint32(0)
	for i := range n {
		node := d.U32("node")
		m := d.Count("entries", 3)
		j := &joinlist{}
		for range m {
			s := storedEntry{group: d.Str("group", MaxNameLength), pid: d.U32("pid"), stamp: d.UV("stamp")}
			if d.Err() == nil && s.stamp > c.stamp {
				return fmt.Errorf("kept JOINLIST %d: stamp %d after the counter %d", i, s.stamp, c.stamp)
			}
			j.entries = append(j.entries, s)
		}
		if err := d.In("kept JOINLIST %d", i); err != nil {
			return err
		}
		if i > 0 && node <= prev {
			return fmt.Errorf("kept JOINLIST %d: node %d not after the previous one's %d", i, node, prev)
		}
		prev = node
		c.kept317[node] = j
	}
	return nil
}

// ConnIDs lists the connections the core knows, oldest first: after
// Restore, those the adapter must have a handed-over client for (a
// connection without one is disconnected).
func (c *Core) ConnIDs() []ConnID {
	ids := make([]ConnID, len(c.conns))
	for i, k := range c.conns {
		ids[i] = k.id
	}
	return ids
}
