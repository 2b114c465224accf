package cpg

import (
	"bytes"
	"fmt"
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
	d := &dec{b: b, off: len(snapshotMagic)}
	if err := c.restore(d); err != nil {
		return nil, fmt.Errorf("cpg: restore: %w", err)
	}
	if d.left() != 0 {
		return nil, fmt.Errorf("cpg: restore: %d bytes after the end of the snapshot", d.left())
	}
	if err := c.CheckInvariants(); err != nil {
		return nil, fmt.Errorf("cpg: restore: the snapshot breaks an invariant: %w", err)
	}
	return c, nil
}

// restore reads everything after the magic, in Snapshot's order.
func (c *Core) restore(d *dec) error {
	if v := d.uv("version"); d.err == nil && v != snapshotVersion {
		return fmt.Errorf("snapshot version %d, this cpgd reads version %d", v, snapshotVersion)
	}
	if n := d.u32("node id"); d.err == nil && n != c.self {
		return fmt.Errorf("snapshot of node %d, this is node %d", n, c.self)
	}
	c.nextIt = d.uv("iterator handle counter")
	c.stamp = d.uv("JOINLIST stamp counter")
	c.lastSyncRing.Rep = d.u32("last sync ring representative")
	c.lastSyncRing.Seq = d.uv("last sync ring sequence")
	if n := d.count("old members", 1); n > 0 {
		c.oldMembers = make([]uint32, n)
		for i := range c.oldMembers {
			c.oldMembers[i] = d.u32("old member")
		}
	}
	if d.err != nil {
		return d.err
	}
	if n := d.count("processes", 3); n > 0 {
		c.procs = make([]proc, n)
		for i := range c.procs {
			p := proc{group: d.str("group", MaxNameLength), node: d.u32("node"), pid: d.u32("pid")}
			if err := d.in("process %d", i); err != nil {
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
		*v = d.uv("stats")
	}
	return d.err
}

// restoreConns reads the connections in cpg_pd order with their iterators.
func (c *Core) restoreConns(d *dec) error {
	n := d.count("connections", 10)
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
	return d.err
}

func (c *Core) restoreConn(d *dec, handles map[uint64]bool) (*conn, error) {
	k := &conn{id: ConnID(d.uv("id"))}
	st := d.uv("state")
	if d.err == nil && st > uint64(leaveStarted) {
		return nil, fmt.Errorf("id %d: state %d, want 0..%d", k.id, st, leaveStarted)
	}
	k.state = connState(st)
	k.group = d.str("group", MaxNameLength)
	k.pid = d.u32("pid")
	k.flags = d.u32("flags")
	k.finalized = d.flag("finalized")
	k.initialTotemSent = d.flag("initial totem confchg sent")
	k.transition = d.uv("transition")
	k.fragStart = d.uv("fragment start")
	if d.err == nil && k.fragStart > k.transition {
		return nil, fmt.Errorf("id %d: fragment start %d after transition %d", k.id, k.fragStart, k.transition)
	}
	n := d.count("iterators", 3)
	prev := uint64(0)
	for i := range n {
		h := d.uv("handle")
		next := d.uv("next")
		m := d.count("entries", 3)
		it := &iterator{}
		if m > 0 {
			it.items = make([]IterEntry, m)
		}
		for j := range it.items {
			it.items[j] = IterEntry{Group: d.str("group", MaxNameLength), NodeID: d.u32("node"), PID: d.u32("pid")}
		}
		if err := d.in("id %d: iterator %d", k.id, i); err != nil {
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
	return k, d.in("id %d", k.id)
}

// restoreAsm reads the fragmented messages in progress and checks that
// each is what partial would have kept: a FIRST and CONTINUED fragments
// adding up to what arrived, or nothing once over MaxReplayBytes.
func (c *Core) restoreAsm(d *dec) error {
	n := d.count("fragmented messages", 7)
	var prev *asmKey
	for i := range n {
		key := asmKey{group: d.str("group", MaxNameLength), node: d.u32("node"), pid: d.u32("pid")}
		a := assembly{msglen: d.u32("message length"), got: d.u32("bytes so far"), overflow: d.flag("overflow")}
		m := d.count("fragments", 2)
		sum := uint64(0)
		for j := range m {
			f := fragment{typ: PartialType(d.u32("fragment type")), data: d.data("fragment")}
			want := PartialContinued
			if j == 0 {
				want = PartialFirst
			}
			if d.err == nil && f.typ != want {
				return fmt.Errorf("fragmented message %d: fragment %d of type %d, want %d", i, j, f.typ, want)
			}
			sum += uint64(len(f.data))
			a.frags = append(a.frags, f)
		}
		if err := d.in("fragmented message %d", i); err != nil {
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
	return d.err
}

// restoreKept317 reads the JOINLISTs 3.1.7 keeps across a barrier-phase
// abort; only a core with Keep317AbortBug can have them.
func (c *Core) restoreKept317(d *dec) error {
	present := d.flag("kept JOINLISTs")
	n := d.count("kept JOINLIST senders", 2)
	if d.err != nil {
		return d.err
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
		node := d.u32("node")
		m := d.count("entries", 3)
		j := &joinlist{}
		for range m {
			s := storedEntry{group: d.str("group", MaxNameLength), pid: d.u32("pid"), stamp: d.uv("stamp")}
			if d.err == nil && s.stamp > c.stamp {
				return fmt.Errorf("kept JOINLIST %d: stamp %d after the counter %d", i, s.stamp, c.stamp)
			}
			j.entries = append(j.entries, s)
		}
		if err := d.in("kept JOINLIST %d", i); err != nil {
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
