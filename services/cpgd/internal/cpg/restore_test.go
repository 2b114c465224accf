package cpg

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// richSnapshot is a quiet node 1 full of state, encoded.
func richSnapshot(t testing.TB, bug bool) []byte {
	b, err := richTwin(t, 1, bug).c().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotCoversCore lists every field of the core's state types, as
// the snapshot knows them: a field added to one of them fails here until
// Snapshot and Restore carry it (and snapshotVersion is bumped), or it is
// listed with the state a quiet core never holds.
func TestSnapshotCoversCore(t *testing.T) {
	known := map[reflect.Type]string{
		// Not encoded: cfg (the successor's own), byID and nodeCount
		// (rebuilt), hold, held, round, own, missed, out (empty when quiet).
		reflect.TypeFor[Core]():        "cfg self procs conns byID nextIt hold held round oldMembers lastSyncRing asm nodeCount own missed stamp kept317 out stats",
		reflect.TypeFor[conn]():        "id state group pid flags finalized initialTotemSent transition fragStart iters",
		reflect.TypeFor[proc]():        "group node pid",
		reflect.TypeFor[iterator]():    "items next",
		reflect.TypeFor[asmKey]():      "group node pid",
		reflect.TypeFor[assembly]():    "msglen got frags overflow",
		reflect.TypeFor[fragment]():    "typ data",
		reflect.TypeFor[joinlist]():    "entries",
		reflect.TypeFor[storedEntry](): "group pid stamp",
		reflect.TypeFor[ring.ID]():     "Rep Seq",
		reflect.TypeFor[IterEntry]():   "Group NodeID PID",
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%v has fields %v; the snapshot knows %s", typ, got, want)
		}
	}
	if n := reflect.TypeFor[Stats]().NumField(); n != len(statFields(&Stats{})) {
		t.Errorf("Stats has %d counters, the snapshot carries %d", n, len(statFields(&Stats{})))
	}
}

// TestRestoreRejects: bytes that are not a snapshot of a quiet core of
// this node are refused with an error naming the problem.
func TestRestoreRejects(t *testing.T) {
	cfg := Config{NodeID: 1}
	b := richSnapshot(t, false)
	for n := range len(b) {
		if _, err := Restore(cfg, b[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes restored", n, len(b))
		}
	}
	head := func(v ...uint64) []byte {
		out := []byte(snapshotMagic)
		for _, x := range v {
			out = binary.AppendUvarint(out, x)
		}
		return out
	}
	raw := []struct {
		name string
		cfg  Config
		b    []byte
		want string
	}{
		{"trailing byte", cfg, append(slices.Clone(b), 0), "1 bytes after the end"},
		{"no magic", cfg, b[1:], "not a cpg core snapshot"},
		{"other version", cfg, head(2, 1), "snapshot version 2, this cpgd reads version 1"},
		{"other node", Config{NodeID: 2}, b, "snapshot of node 1, this is node 2"},
		{"no node id", Config{}, b, "NodeID is 0"},
		{"huge count", cfg, head(1, 1, 0, 0, 0, 0, 1<<40), "old members at byte 14: count 1099511627776, but only 0 bytes left"},
		{"long varint", cfg, append(head(), 0x81, 0), "version at byte 8: number 1 not minimally encoded"},
		{"node id over 32 bits", cfg, head(1, 1<<32), "node id at byte 9: 4294967296 exceeds 32 bits"},
		{"kept JOINLISTs without the bug", cfg, richSnapshot(t, true), "does not keep 3.1.7's abort bug"},
	}
	for _, tc := range raw {
		if _, err := Restore(tc.cfg, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}

	// States a core never gets into, encoded by Snapshot itself.
	bad := []struct {
		name   string
		mangle func(c *Core)
		want   string
	}{
		{"connection state", func(c *Core) { c.conns[0].state = 7 }, "connection 0: id 1: state 7, want 0..3"},
		{"long group", func(c *Core) { c.conns[0].group = strings.Repeat("g", 129) }, "connection 0: id 1: group at byte"},
		{"duplicate connection", func(c *Core) { c.conns[1].id = c.conns[0].id }, "connection 1: id 1 listed twice"},
		{"fragment start", func(c *Core) { c.conns[0].fragStart = c.conns[0].transition + 1 }, "fragment start"},
		{"iterator past its end", func(c *Core) { c.byID[1].iters[1].next = 99 }, "iterator 1 at entry 99"},
		{"iterator not issued", func(c *Core) { c.nextIt = 1 }, "iterator handle 2 not issued yet"},
		{"shared iterator", func(c *Core) { c.byID[2].iters = map[uint64]*iterator{1: {}} }, "iterator handle 1 owned by another connection too"},
		{"unjoined with a group", func(c *Core) { c.byID[4].group = "x" }, "unjoined connection 4 keeps group x"},
		{"processes out of order", func(c *Core) { c.procs[0], c.procs[len(c.procs)-1] = c.procs[len(c.procs)-1], c.procs[0] }, "process list out of order"},
		{"process twice", func(c *Core) { c.procs = append(c.procs, c.procs[len(c.procs)-1]) }, "listed twice"},
		{"fragments past the message", func(c *Core) {
			c.asm[asmKey{"a", 2, 200}] = assembly{msglen: 3, got: 4, frags: []fragment{{PartialFirst, []byte("abcd")}}}
		}, "4 bytes of a 3-byte message"},
		{"fragments not adding up", func(c *Core) {
			c.asm[asmKey{"a", 2, 200}] = assembly{msglen: 9, got: 5, frags: []fragment{{PartialFirst, []byte("abcd")}}}
		}, "1 fragments of 4 bytes kept, 5 bytes arrived"},
		{"no FIRST", func(c *Core) {
			c.asm[asmKey{"a", 2, 200}] = assembly{msglen: 9, got: 4, frags: []fragment{{PartialContinued, []byte("abcd")}}}
		}, "fragment 0 of type 2, want 1"},
		{"overflow with fragments", func(c *Core) {
			c.asm[asmKey{"a", 2, 200}] = assembly{msglen: 9, got: 4, overflow: true, frags: []fragment{{PartialFirst, []byte("abcd")}}}
		}, "over the replay limit"},
	}
	for _, tc := range bad {
		c, err := Restore(cfg, b)
		if err != nil {
			t.Fatal(err)
		}
		tc.mangle(c)
		broken, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(cfg, broken); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	c, _ := Restore(Config{NodeID: 1, Keep317AbortBug: true}, richSnapshot(t, true))
	for _, j := range c.kept317 {
		j.entries[0].stamp = c.stamp + 1
	}
	broken, _ := c.Snapshot()
	if _, err := Restore(Config{NodeID: 1, Keep317AbortBug: true}, broken); err == nil || !strings.Contains(err.Error(), "after the counter") {
		t.Errorf("a kept JOINLIST stamped after the counter: %v", err)
	}
}

// FuzzRestore feeds Restore arbitrary bytes, seeded with real snapshots:
// it must not panic, and a core it accepts passes CheckInvariants, is
// quiet, encodes to the same bytes, and can be driven on.
func FuzzRestore(f *testing.F) {
	f.Add(richSnapshot(f, false), false)
	f.Add(richSnapshot(f, true), true)
	tw := newTwin(f, 1, false)
	tw.startRound(2)
	tw.settle()
	plain, err := tw.c().Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain, false)
	f.Fuzz(func(t *testing.T, b []byte, bug bool) {
		c, err := Restore(Config{NodeID: 1, Keep317AbortBug: bug}, b)
		if err != nil {
			return
		}
		if err := c.CheckInvariants(); err != nil {
			t.Fatalf("restored core: %v", err)
		}
		again, err := c.Snapshot()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("the restored core encodes differently (%v)", err)
		}
		drive(t, c)
	})
}

// drive runs a restored core through a round, other nodes' messages, a
// join and every connection's end.
func drive(t *testing.T, c *Core) {
	r := Round{ID: 99, Ring: ring.ID{Rep: 1, Seq: c.lastSyncRing.Seq + 4}, Members: []uint32{1, 2}, Trans: []uint32{1}}
	c.ConfChg(ring.Regular)
	c.SyncInit(r)
	c.SyncProcess(r)
	for _, m := range c.Ready().Mcasts {
		if err := c.Deliver(1, m, false); err != nil {
			t.Fatal(err)
		}
	}
	c.SyncActivate(r)
	for _, m := range []cpgmsg.Message{
		cpgmsg.ProcJoin{Group: "a", PID: 9, Reason: 1},
		cpgmsg.Mcast{Group: "a", PID: 9, Data: []byte("x")},
		cpgmsg.PartialMcast{Group: "a", MsgLen: 3, PID: 9, Type: 1, Data: []byte("x")},
	} {
		if err := c.Deliver(2, cpgmsg.Encode(m), false); err != nil {
			t.Fatal(err)
		}
	}
	id := ConnID(1)
	for c.byID[id] != nil {
		id++
	}
	if err := c.Connect(id); err != nil {
		t.Fatal(err)
	}
	c.Join(id, "a", 1, FlagInitialTotemConf)
	for _, k := range slices.Clone(c.conns) {
		for h := range k.iters {
			c.IterationNext(k.id, h)
		}
		c.PartialMcast(k.id, PartialContinued, 3, []byte("y"))
		c.Disconnect(k.id)
	}
	for _, m := range c.Ready().Mcasts {
		if err := c.Deliver(1, m, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CheckInvariants(); err != nil {
		t.Fatalf("driven on: %v", err)
	}
}
