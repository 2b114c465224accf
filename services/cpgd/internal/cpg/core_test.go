package cpg

import (
	"fmt"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// cluster is a minimal ring for unit tests: every multicast is delivered
// to every core in the order flush finds them.
type cluster struct {
	t      *testing.T
	cores  map[uint32]*Core
	events map[uint32][]Event
	round  uint64
	seq    uint64
}

func newCluster(t *testing.T, ids ...uint32) *cluster {
	cl := &cluster{t: t, cores: map[uint32]*Core{}, events: map[uint32][]Event{}}
	for _, id := range ids {
		c, err := New(Config{NodeID: id})
		if err != nil {
			t.Fatal(err)
		}
		cl.cores[id] = c
	}
	return cl
}

// flush delivers every queued multicast to the given members, in node
// order, until nothing is left; events are collected per node.
func (cl *cluster) flush(members ...uint32) {
	for {
		var msgs []struct {
			from uint32
			b    []byte
		}
		for _, id := range members {
			r := cl.cores[id].Ready()
			cl.events[id] = append(cl.events[id], r.Events...)
			for _, m := range r.Mcasts {
				msgs = append(msgs, struct {
					from uint32
					b    []byte
				}{id, m})
			}
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			for _, id := range members {
				if err := cl.cores[id].Deliver(m.from, m.b, false); err != nil {
					cl.t.Fatal(err)
				}
			}
		}
	}
}

// sync runs one full round over parts that each come with their trans
// list: members is the new ring.
func (cl *cluster) sync(members []uint32, trans map[uint32][]uint32) {
	cl.round++
	cl.seq += 4
	r := Round{ID: cl.round, Ring: ring.ID{Rep: members[0], Seq: cl.seq}, Members: members}
	for _, id := range members {
		ri := r
		ri.Trans = trans[id]
		if ri.Trans == nil {
			ri.Trans = members
		}
		cl.cores[id].ConfChg(ring.Regular)
		cl.cores[id].SyncInit(ri)
	}
	// Sync messages first, in node order, then activation everywhere.
	var msgs []struct {
		from uint32
		b    []byte
	}
	for _, id := range members {
		c := cl.cores[id]
		if !c.SyncProcess(r) {
			cl.t.Fatal("SyncProcess not done")
		}
		rd := c.Ready()
		cl.events[id] = append(cl.events[id], rd.Events...)
		for _, m := range rd.Mcasts {
			msgs = append(msgs, struct {
				from uint32
				b    []byte
			}{id, m})
		}
	}
	for _, m := range msgs {
		for _, id := range members {
			if err := cl.cores[id].Deliver(m.from, m.b, false); err != nil {
				cl.t.Fatal(err)
			}
		}
	}
	for _, id := range members {
		cl.cores[id].SyncActivate(r)
	}
	cl.flush(members...)
}

// take returns and clears a node's events, rendered one per line.
func (cl *cluster) take(id uint32) []string {
	var out []string
	for _, e := range cl.events[id] {
		out = append(out, render(e))
	}
	cl.events[id] = nil
	return out
}

func addrList(as []Address) string {
	var ss []string
	for _, a := range as {
		if a.Reason != 0 {
			ss = append(ss, fmt.Sprintf("%d/%d:%d", a.NodeID, a.PID, a.Reason))
		} else {
			ss = append(ss, fmt.Sprintf("%d/%d", a.NodeID, a.PID))
		}
	}
	return "[" + strings.Join(ss, " ") + "]"
}

func render(e Event) string {
	switch e := e.(type) {
	case ConfChgEvent:
		return fmt.Sprintf("c%d confchg %q members=%s left=%s joined=%s", e.Conn, e.Group, addrList(e.Members), addrList(e.Left), addrList(e.Joined))
	case DeliverEvent:
		return fmt.Sprintf("c%d deliver %q from %d/%d %q", e.Conn, e.Group, e.NodeID, e.PID, e.Data)
	case PartialDeliverEvent:
		return fmt.Sprintf("c%d partial %q from %d/%d type %d %q", e.Conn, e.Group, e.NodeID, e.PID, e.Type, e.Data)
	case TotemConfChgEvent:
		return fmt.Sprintf("c%d totem %v %v", e.Conn, e.Ring, e.Members)
	}
	return fmt.Sprintf("%T", e)
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func must(t *testing.T, got, want cs.Error) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestJoinMcastLeaveOneNode(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	if err := c.Connect(1); err != nil {
		t.Fatal(err)
	}
	must(t, c.Join(1, "grp", 100, 0), cs.OK)
	// A message sent before the join completes comes after the join confchg.
	must(t, c.Mcast(1, []byte("early")), cs.OK)
	cl.flush(1)
	expect(t, "join", cl.take(1),
		`c1 confchg "grp" members=[1/100] left=[] joined=[1/100:1]`,
		`c1 deliver "grp" from 1/100 "early"`)
	must(t, c.Leave(1), cs.OK)
	must(t, c.Leave(1), cs.ErrNotExist)
	cl.flush(1)
	expect(t, "leave", cl.take(1), `c1 confchg "grp" members=[] left=[1/100:2] joined=[]`)
	// 2.0.0 semantics: the connection is UNJOINED again and may join anew.
	must(t, c.Mcast(1, []byte("x")), cs.ErrNotExist)
	must(t, c.Join(1, "other", 100, 0), cs.OK)
	cl.flush(1)
	expect(t, "rejoin", cl.take(1), `c1 confchg "other" members=[1/100] left=[] joined=[1/100:1]`)
}

func TestJoinChecks(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	for id := ConnID(1); id <= 3; id++ {
		if err := c.Connect(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Connect(1); err == nil {
		t.Fatal("a second Connect of the same id succeeded")
	}
	must(t, c.Join(1, "g", 7, 0), cs.OK)
	must(t, c.Leave(1), cs.ErrBusy)            // JOIN_STARTED
	must(t, c.Join(1, "h", 7, 0), cs.ErrExist) // already joining
	must(t, c.Join(2, "g", 7, 0), cs.ErrExist) // same pid and group on another connection
	must(t, c.Join(2, strings.Repeat("n", 129), 8, 0), cs.ErrNameTooLong)
	must(t, c.Join(2, strings.Repeat("n", 128), 8, 0), cs.OK)
	cl.flush(1)
	must(t, c.Leave(1), cs.OK)
	must(t, c.Join(1, "h", 7, 0), cs.ErrBusy) // LEAVE_STARTED
	// The leaving connection still holds pid 7 in g.
	must(t, c.Join(3, "g", 7, 0), cs.ErrExist)
	cl.flush(1)
	must(t, c.Join(3, "g", 7, 0), cs.OK)
	cl.flush(1)
	// A disconnected process whose PROCLEAVE is not delivered yet.
	c.Disconnect(3)
	_ = c.Connect(4)
	must(t, c.Join(4, "g", 7, 0), cs.ErrTryAgain)
	cl.flush(1)
	must(t, c.Join(4, "g", 7, 0), cs.OK)
	must(t, c.Join(1, "g", 9, 0), cs.OK) // another pid, same group
	cl.flush(1)
	if got := addrList(c.MembershipGet("g")); got != "[1/7 1/9]" {
		t.Fatalf("membership_get: %s", got)
	}
	if got := c.MembershipGet("nope"); got != nil {
		t.Fatalf("membership_get of an unknown group: %v", got)
	}
	if c.LocalGet() != 1 {
		t.Fatal("local_get")
	}
}

func TestGroupFull(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	for i := range MaxGroupMembers + 1 {
		id := ConnID(i + 1)
		if err := c.Connect(id); err != nil {
			t.Fatal(err)
		}
		want := cs.OK
		if i == MaxGroupMembers {
			want = cs.ErrNoResources
		}
		must(t, c.Join(id, "big", uint32(1000+i), 0), want)
		cl.flush(1)
	}
}

func TestTwoNodesMergeAndPartition(t *testing.T) {
	cl := newCluster(t, 1, 2)
	c1, c2 := cl.cores[1], cl.cores[2]
	cl.sync([]uint32{1}, nil)
	cl.sync([]uint32{2}, nil)
	_ = c1.Connect(1)
	_ = c2.Connect(1)
	must(t, c1.Join(1, "grp", 10, FlagInitialTotemConf), cs.OK)
	must(t, c2.Join(1, "grp", 20, 0), cs.OK)
	cl.flush(1)
	cl.flush(2)
	expect(t, "node 1 alone", cl.take(1),
		`c1 confchg "grp" members=[1/10] left=[] joined=[1/10:1]`,
		`c1 totem 1.4 [1]`) // the initial totem confchg: the last round's ring
	cl.take(2)

	// Merge: each side learns the other's process (NODEUP), then totem.
	cl.sync([]uint32{1, 2}, map[uint32][]uint32{1: {1}, 2: {2}})
	expect(t, "merge, node 1", cl.take(1),
		`c1 confchg "grp" members=[1/10 2/20] left=[] joined=[2/20:4]`,
		`c1 totem 1.c [1 2]`)
	expect(t, "merge, node 2", cl.take(2),
		`c1 confchg "grp" members=[1/10 2/20] left=[] joined=[1/10:4]`,
		`c1 totem 1.c [1 2]`)

	// Message in the merged ring: both deliver it.
	must(t, c2.Mcast(1, []byte("hello")), cs.OK)
	cl.flush(1, 2)
	expect(t, "mcast", cl.take(1), `c1 deliver "grp" from 2/20 "hello"`)
	expect(t, "mcast", cl.take(2), `c1 deliver "grp" from 2/20 "hello"`)

	// Partition: each side sees the other leave with NODEDOWN.
	cl.sync([]uint32{1}, map[uint32][]uint32{1: {1}})
	expect(t, "partition", cl.take(1),
		`c1 confchg "grp" members=[1/10] left=[2/20:3] joined=[]`,
		`c1 totem 1.10 [1]`)
}

// A process that disconnects without leaving leaves with PROCDOWN, also
// from the zero-length group name (3.1.7 skips it, addendum §3.4).
func TestDisconnectLeavesWithProcDown(t *testing.T) {
	for _, g := range []string{"grp", ""} {
		cl := newCluster(t, 1)
		c := cl.cores[1]
		cl.sync([]uint32{1}, nil)
		_ = c.Connect(1)
		_ = c.Connect(2)
		must(t, c.Join(1, g, 10, 0), cs.OK)
		must(t, c.Join(2, g, 11, 0), cs.OK)
		cl.flush(1)
		cl.take(1)
		c.Disconnect(1)
		cl.flush(1)
		expect(t, fmt.Sprintf("disconnect from %q", g), cl.take(1),
			fmt.Sprintf(`c2 confchg %q members=[1/11] left=[1/10:5] joined=[]`, g))
	}
}

// NODEDOWN and NODEUP confchgs of one round come one per group, ordered by
// strcmp of the name up to its first NUL (addendum §3.2); names equal up to
// it are not merged. The NODEUP joined list is newest entry first, as
// 3.1.7 walks its stored JOINLIST entries.
func TestSyncConfchgOrder(t *testing.T) {
	cl := newCluster(t, 1, 2)
	c1, c2 := cl.cores[1], cl.cores[2]
	cl.sync([]uint32{1}, nil)
	cl.sync([]uint32{2}, nil)
	groups := []string{"b", "a\x00z", "", "a", "B"}
	_ = c1.Connect(100)
	must(t, c1.Join(100, "b", 1, 0), cs.OK)
	for i, g := range groups {
		for j := range 2 {
			id := ConnID(10*i + j + 1)
			_ = c2.Connect(id)
			must(t, c2.Join(id, g, uint32(50+j), 0), cs.OK)
			cl.flush(2)
		}
	}
	cl.flush(1)
	cl.take(1)
	cl.take(2)
	// Node 1 merges with node 2: one NODEUP confchg for "b" only (node 1
	// has members in "b" alone).
	cl.sync([]uint32{1, 2}, map[uint32][]uint32{1: {1}, 2: {2}})
	expect(t, "merge", cl.take(1),
		`c100 confchg "b" members=[1/1 2/50 2/51] left=[] joined=[2/51:4 2/50:4]`,
		`c100 totem 1.c [1 2]`)
	// Node 1's members of every group, then a partition: node 1 sees the
	// NODEDOWN confchgs in strcmp order.
	for i, g := range groups {
		id := ConnID(200 + i)
		_ = c1.Connect(id)
		if g != "b" {
			must(t, c1.Join(id, g, 1, 0), cs.OK)
		}
	}
	cl.flush(1, 2)
	cl.take(1)
	cl.sync([]uint32{1}, map[uint32][]uint32{1: {1}})
	var got []string
	for _, e := range cl.take(1) {
		if strings.Contains(e, "confchg") && strings.HasPrefix(e, "c2") {
			got = append(got, e)
		}
	}
	expect(t, "partition order", got,
		`c202 confchg "" members=[1/1] left=[2/50:3 2/51:3] joined=[]`,
		`c204 confchg "B" members=[1/1] left=[2/50:3 2/51:3] joined=[]`,
		`c203 confchg "a" members=[1/1] left=[2/50:3 2/51:3] joined=[]`,
		`c201 confchg "a\x00z" members=[1/1] left=[2/50:3 2/51:3] joined=[]`,
	)
}

// Iteration order is 3.1.7's: a new group goes first, each later entry
// of a group right after that group's first entry.
func TestIterationOrder(t *testing.T) {
	cl := newCluster(t, 1, 2, 3)
	for _, id := range []uint32{1, 2, 3} {
		cl.sync([]uint32{id}, nil)
	}
	join := func(node uint32, g string, pid uint32) {
		c := cl.cores[node]
		id := ConnID(pid)
		_ = c.Connect(id)
		must(t, c.Join(id, g, pid, 0), cs.OK)
		cl.flush(node)
	}
	join(1, "G", 10)
	join(1, "H", 11)
	join(2, "G", 20)
	join(3, "G", 30)
	cl.sync([]uint32{1, 2, 3}, map[uint32][]uint32{1: {1}, 2: {2}, 3: {3}})
	c := cl.cores[1]
	iter := func(typ IterType, g string) string {
		h, st := c.IterationInit(10, typ, g)
		must(t, st, cs.OK)
		var out []string
		for {
			e, st := c.IterationNext(10, h)
			if st == cs.ErrNoSections {
				break
			}
			must(t, st, cs.OK)
			out = append(out, fmt.Sprintf("%s:%d/%d", e.Group, e.NodeID, e.PID))
		}
		must(t, c.IterationFinalize(10, h), cs.OK)
		must(t, c.IterationFinalize(10, h), cs.ErrLibrary)
		return strings.Join(out, " ")
	}
	if got, want := iter(IterAll, ""), "H:1/11 G:1/10 G:3/30 G:2/20"; got != want {
		t.Errorf("ALL: %s, want %s", got, want)
	}
	if got, want := iter(IterNameOnly, ""), "H:0/0 G:0/0"; got != want {
		t.Errorf("NAME_ONLY: %s, want %s", got, want)
	}
	if got, want := iter(IterOneGroup, "G"), "G:1/10 G:3/30 G:2/20"; got != want {
		t.Errorf("ONE_GROUP: %s, want %s", got, want)
	}
	if _, st := c.IterationNext(11, 1); st != cs.ErrLibrary {
		t.Errorf("another connection's handle: %v", st)
	}
}

// During a round the core holds its multicasts and sends them, in order,
// after the activation; 3.1.7 would drop them.
func TestMcastHeldDuringSync(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	_ = c.Connect(1)
	must(t, c.Join(1, "g", 5, 0), cs.OK)
	cl.flush(1)
	cl.take(1)
	c.ConfChg(ring.Transitional)
	must(t, c.Mcast(1, []byte("one")), cs.OK)
	must(t, c.Mcast(1, []byte("two")), cs.OK)
	if !c.InSync() || c.Held() != 2 || len(c.Ready().Mcasts) != 0 {
		t.Fatalf("in sync %v, held %d", c.InSync(), c.Held())
	}
	cl.sync([]uint32{1}, nil)
	expect(t, "after the round", cl.take(1),
		`c1 totem 1.8 [1]`,
		`c1 deliver "g" from 1/5 "one"`,
		`c1 deliver "g" from 1/5 "two"`)
}

func TestPartialFragments(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	_ = c.Connect(1)
	_ = c.Connect(2)
	must(t, c.Join(1, "g", 5, 0), cs.OK)
	cl.flush(1)
	must(t, c.PartialMcast(1, PartialFirst, 6, []byte("ab")), cs.OK)
	cl.flush(1)
	// A process joining mid-message gets the first fragment replayed.
	must(t, c.Join(2, "g", 6, 0), cs.OK)
	cl.flush(1)
	// The sender saw a confchg since its FIRST: CS_ERR_INTERRUPT.
	must(t, c.PartialMcast(1, PartialContinued, 6, []byte("cd")), cs.ErrInterrupt)
	cl.take(1)
	// A fresh message: both get every fragment.
	must(t, c.PartialMcast(1, PartialFirst, 4, []byte("wx")), cs.OK)
	cl.flush(1)
	must(t, c.Join(2, "g", 6, 0), cs.ErrExist)
	must(t, c.PartialMcast(1, PartialLast, 4, []byte("yz")), cs.OK)
	cl.flush(1)
	expect(t, "fragments", cl.take(1),
		`c2 partial "g" from 1/5 type 1 "wx"`,
		`c1 partial "g" from 1/5 type 1 "wx"`,
		`c2 partial "g" from 1/5 type 3 "yz"`,
		`c1 partial "g" from 1/5 type 3 "yz"`)

	// Inconsistent fragments from a peer are withheld.
	bad := cpgmsg.Encode(cpgmsg.PartialMcast{Group: "g", MsgLen: 10, PID: 5, Type: 3, Data: []byte("zz")})
	if err := c.Deliver(1, bad, false); err != nil {
		t.Fatal(err)
	}
	if r := c.Ready(); len(r.Events) != 0 || c.Stats().BadFragments != 1 {
		t.Fatalf("a LAST without FIRST was delivered: %v", r.Events)
	}
}

func TestReplayToLateJoiner(t *testing.T) {
	cl := newCluster(t, 1, 2)
	c1, c2 := cl.cores[1], cl.cores[2]
	cl.sync([]uint32{1, 2}, nil)
	_ = c1.Connect(1)
	_ = c2.Connect(1)
	must(t, c1.Join(1, "g", 5, 0), cs.OK)
	cl.flush(1, 2)
	must(t, c1.PartialMcast(1, PartialFirst, 4, []byte("ab")), cs.OK)
	must(t, c2.Join(1, "g", 6, 0), cs.OK) // ordered after the FIRST fragment
	cl.flush(1, 2)
	must(t, c1.PartialMcast(1, PartialLast, 4, []byte("cd")), cs.ErrInterrupt)
	cl.take(1)
	expect(t, "late joiner", cl.take(2),
		`c1 confchg "g" members=[1/5 2/6] left=[] joined=[2/6:1]`,
		`c1 partial "g" from 1/5 type 1 "ab"`)
}

func TestProcLeaveOfUnknownProcess(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	_ = c.Connect(1)
	must(t, c.Join(1, "g", 5, 0), cs.OK)
	cl.flush(1)
	cl.take(1)
	if err := c.Deliver(2, cpgmsg.Encode(cpgmsg.ProcLeave{Group: "g", PID: 77, Reason: 2}), false); err != nil {
		t.Fatal(err)
	}
	if r := c.Ready(); len(r.Events) != 0 {
		t.Fatalf("confchg for a process never seen: %v", r.Events)
	}
	if err := c.Deliver(2, []byte{1, 2, 3}, false); err == nil || c.Stats().Malformed != 1 {
		t.Fatalf("a 3-byte message was accepted: %v", err)
	}
}

// FuzzDeliver feeds arbitrary ring messages to a core with members,
// connections and a round in progress: errors are fine, panics are not.
func FuzzDeliver(f *testing.F) {
	for _, m := range []cpgmsg.Message{
		cpgmsg.ProcJoin{Group: "g", PID: 1, Reason: 1},
		cpgmsg.ProcLeave{Group: "g", PID: 5, Reason: 2},
		cpgmsg.JoinList{Entries: []cpgmsg.JoinEntry{{PID: 9, Group: "g"}}},
		cpgmsg.Mcast{Group: "g", PID: 5, Data: []byte("x")},
		cpgmsg.PartialMcast{Group: "g", MsgLen: 3, PID: 5, Type: 1, Data: []byte("x")},
		cpgmsg.Downlist{OldMembers: 1, Left: []uint32{2}},
	} {
		f.Add(uint32(2), cpgmsg.Encode(m), false, true)
	}
	f.Fuzz(func(t *testing.T, from uint32, msg []byte, swapped, inRound bool) {
		c, _ := New(Config{NodeID: 1})
		r := Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1, 2}, Trans: []uint32{1}}
		c.SyncInit(r)
		c.SyncProcess(r)
		c.SyncActivate(r)
		_ = c.Connect(1)
		c.Join(1, "g", 5, 1)
		_ = c.Deliver(1, cpgmsg.Encode(cpgmsg.ProcJoin{Group: "g", PID: 5, Reason: 1}), false)
		if inRound {
			r.ID, r.Ring.Seq = 2, 8
			c.SyncInit(r)
		}
		_ = c.Deliver(from, msg, swapped)
		c.SyncActivate(r)
		c.Disconnect(1)
		c.Ready()
	})
}

// After the bus to totemd went away, the messages the host failed are
// sent again after the next round, before what the core held since.
func TestResendAfterDetach(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	_ = c.Connect(1)
	must(t, c.Join(1, "g", 5, 0), cs.OK)
	cl.flush(1)
	cl.take(1)
	must(t, c.Mcast(1, []byte("lost")), cs.OK)
	failed := c.Ready().Mcasts
	c.Detached()
	must(t, c.Mcast(1, []byte("later")), cs.OK) // while the bus is away: held after the failed one
	c.Requeue(failed)
	cl.sync([]uint32{1}, nil)
	expect(t, "after reattaching", cl.take(1),
		`c1 totem 1.8 [1]`,
		`c1 deliver "g" from 1/5 "lost"`,
		`c1 deliver "g" from 1/5 "later"`)
}

// More local processes than one JOINLIST holds go in several; receivers
// add them up. A DOWNLIST starts its sender's list afresh, so a stale
// JOINLIST of an aborted round does not count.
func TestJoinListSplitAndStale(t *testing.T) {
	a, _ := New(Config{NodeID: 1})
	n := MaxJoinListEntries + 1
	for pid := range n {
		if err := a.Deliver(1, cpgmsg.Encode(cpgmsg.ProcJoin{Group: "g", PID: uint32(pid + 1), Reason: 1}), false); err != nil {
			t.Fatal(err)
		}
	}
	r := Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1, 2}, Trans: []uint32{1}}
	a.SyncInit(r)
	a.SyncProcess(r)
	out := a.Ready().Mcasts
	if len(out) != 3 {
		t.Fatalf("%d sync messages, want DOWNLIST and two JOINLISTs", len(out))
	}
	for i, want := range []int{cpgmsg.DownlistSize, cpgmsg.ResHeaderSize + cpgmsg.JoinEntrySize*MaxJoinListEntries, cpgmsg.ResHeaderSize + cpgmsg.JoinEntrySize} {
		if len(out[i]) != want {
			t.Fatalf("sync message %d: %d bytes, want %d", i, len(out[i]), want)
		}
	}

	b, _ := New(Config{NodeID: 2})
	b.SyncInit(Round{ID: 1, Ring: r.Ring, Members: r.Members, Trans: []uint32{2}})
	// A stale JOINLIST from node 1's aborted round comes first.
	stale := cpgmsg.Encode(cpgmsg.JoinList{Entries: []cpgmsg.JoinEntry{{PID: 999, Group: "ghost"}}})
	for _, m := range append([][]byte{stale}, out...) {
		if err := b.Deliver(1, m, false); err != nil {
			t.Fatal(err)
		}
	}
	b.SyncActivate(r)
	got := b.ProcessList()
	if len(got) != n {
		t.Fatalf("node 2 knows %d processes of node 1, want %d", len(got), n)
	}
	for _, e := range got {
		if e.Group != "g" {
			t.Fatalf("stale entry %+v applied", e)
		}
	}
}

// A failure reported after the round that followed the reattachment is
// sent at once (a repeated PROCJOIN changes nothing).
func TestRequeueAfterTheRound(t *testing.T) {
	cl := newCluster(t, 1)
	c := cl.cores[1]
	cl.sync([]uint32{1}, nil)
	_ = c.Connect(1)
	must(t, c.Join(1, "g", 5, 0), cs.OK)
	join := c.Ready().Mcasts
	c.Detached()
	cl.sync([]uint32{1}, nil) // the JOINLIST counts the join as taken by the ring
	expect(t, "round", cl.take(1),
		`c1 confchg "g" members=[1/5] left=[] joined=[1/5:4]`,
		`c1 totem 1.8 [1]`)
	c.Requeue(join)
	if len(c.Ready().Mcasts) != 1 {
		t.Fatal("the late failure was not sent at once")
	}
	if err := c.Deliver(1, join[0], false); err != nil {
		t.Fatal(err)
	}
	if r := c.Ready(); len(r.Events) != 0 {
		t.Fatalf("a repeated PROCJOIN made events: %v", r.Events)
	}
	must(t, c.Leave(1), cs.OK)
}
