package cpg

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

func (tw *twin) peerJoin(node uint32, group string, pid uint32) {
	pr := proc{group: group, node: node, pid: pid}
	tw.peerProcs[node] = append(tw.peerProcs[node], pr)
	tw.deliver(node, cpgmsg.Encode(cpgmsg.ProcJoin{Group: group, PID: pid, Reason: 1}))
}

func fragMsg(node uint32, group string, pid, msglen uint32, typ PartialType, data string) []byte {
	return cpgmsg.Encode(cpgmsg.PartialMcast{Group: group, MsgLen: msglen, PID: pid, Type: uint32(typ), SourceNode: node, Data: []byte(data)})
}

// richTwin drives node 1 to a quiet point that holds a bit of everything a
// snapshot carries: processes of three nodes after a partition and a merge
// (JOINLIST stamps), connections joined, unjoined, finalized, one with the
// initial totem confchg, one in the middle of its own fragmented message,
// open iterators (one half read), two other nodes' fragmented messages in
// progress, stats; with bug, 3.1.7's JOINLISTs kept across an abort.
func richTwin(t testing.TB, seed uint64, bug bool) *twin {
	tw := newTwin(t, seed, bug)
	must := func(_ testing.TB, got, want any) {
		t.Helper()
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	full := func(peers ...uint32) { tw.startRound(peers...); tw.settle() }
	full(2, 3)
	for range 5 {
		tw.connect()
	}
	must(t, tw.join(1, "a", 100, FlagInitialTotemConf).(cs.Error), cs.OK)
	must(t, tw.join(2, "a", 101, 0).(cs.Error), cs.OK)
	must(t, tw.join(3, "b", 100, 0).(cs.Error), cs.OK)
	must(t, tw.join(5, "c\x00", 102, 0).(cs.Error), cs.OK)
	tw.settle()
	tw.peerJoin(2, "a", 200)
	tw.peerJoin(3, "a", 300)
	tw.peerJoin(2, "b", 201)
	full(2)    // node 3 leaves
	full(2, 3) // and merges again
	if bug {
		// An activation after an abort in the barrier phase, with no init
		// in between: the core keeps the stored JOINLISTs for the next
		// round, where they bring the peers' processes back (dropped
		// meanwhile) in their stamps' order.
		tw.startRound(2, 3)
		tw.process()
		for n := 1; n > 0; {
			n = 0
			for _, q := range tw.syncQ {
				n += len(q)
			}
			if n > 0 {
				tw.syncStep()
			}
		}
		tw.activate(true)
		tw.settle()
	}
	must(t, tw.mcast(1, "hello").(cs.Error), cs.OK)
	tw.deliver(2, cpgmsg.Encode(cpgmsg.Mcast{Group: "a", PID: 200, SourceNode: 2, Data: []byte("from 2")}))
	tw.deliver(2, fragMsg(2, "a", 200, 10, PartialFirst, "abcd"))
	tw.deliver(3, fragMsg(3, "a", 300, 6, PartialFirst, "xy"))
	tw.deliver(3, fragMsg(3, "a", 300, 6, PartialContinued, "zz"))
	must(t, tw.in("partial", func(c *Core) any { return c.PartialMcast(2, PartialFirst, 8, []byte("1234")) }).(cs.Error), cs.OK)
	h := tw.in("iteration init", func(c *Core) any { h, _ := c.IterationInit(1, IterAll, ""); return h }).(uint64)
	tw.in("iteration next", func(c *Core) any { e, st := c.IterationNext(1, h); return [2]any{e, st} })
	tw.in("iteration init", func(c *Core) any { h, _ := c.IterationInit(3, IterOneGroup, "a"); return h })
	tw.in("finalize", func(c *Core) any { return c.Finalize(5) })
	tw.settle()

	c := tw.c()
	if ids := c.ConnIDs(); !slices.Equal(ids, []ConnID{1, 2, 3, 4, 5}) {
		t.Fatalf("connections %v, want 1..5", ids)
	}
	k1, k2, k3, k4, k5 := c.byID[1], c.byID[2], c.byID[3], c.byID[4], c.byID[5]
	switch {
	case len(c.asm) != 3:
		t.Fatalf("%d fragmented messages in progress, want 3", len(c.asm))
	case len(k1.iters) != 1 || k1.iters[h].next != 1 || len(k3.iters) != 1:
		t.Fatal("iterators not open as set up")
	case !k5.finalized || k5.state != joinCompleted || k4.state != unjoined:
		t.Fatal("connections 4 and 5 not unjoined and finalized")
	case !k1.initialTotemSent || k1.transition == 0 || k2.fragStart == 0:
		t.Fatal("connection 1 got no initial totem confchg or connection 2 no fragment start")
	case c.stamp == 0 || len(c.oldMembers) != 3 || c.stats.Malformed != 0:
		t.Fatalf("stamp %d, old members %v", c.stamp, c.oldMembers)
	case bug != (len(c.kept317) > 0):
		t.Fatalf("3.1.7's kept JOINLISTs: %v", c.kept317)
	}
	return tw
}

// TestHandoverIndistinguishable hands node 1's core over at a quiet point
// full of state, then feeds the original and the restored core the same
// long random input (client requests, deliveries, other nodes' fragments,
// sync rounds and aborts, detachments), handing over again at later quiet
// points, and requires the same outputs at every step and the same
// snapshot at the end.
func TestHandoverIndistinguishable(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("Keep317AbortBug=%v", bug), func(t *testing.T) {
			for seed := uint64(1); seed <= 4; seed++ {
				tw := richTwin(t, seed, bug)
				tw.handover()
				// What was in progress at the handover goes on.
				must(t, tw.in("partial", func(c *Core) any { return c.PartialMcast(2, PartialContinued, 8, []byte("56")) }).(cs.Error), cs.OK)
				must(t, tw.in("partial", func(c *Core) any { return c.PartialMcast(2, PartialLast, 8, []byte("78")) }).(cs.Error), cs.OK)
				// A process joins before the others' messages end: their
				// kept fragments are replayed to it.
				id := tw.connect()
				must(t, tw.join(id, "a", 103, 0).(cs.Error), cs.OK)
				tw.settle()
				tw.deliver(2, fragMsg(2, "a", 200, 10, PartialLast, "efghij"))
				tw.deliver(3, fragMsg(3, "a", 300, 6, PartialLast, "ab"))
				for _, id := range []ConnID{1, 3} {
					for _, h := range []uint64{1, 2} {
						tw.in("iteration next", func(c *Core) any { e, st := c.IterationNext(id, h); return [2]any{e, st} })
					}
				}
				tw.handles[1], tw.handles[3] = []uint64{1}, []uint64{2}
				// Node 3 goes: with 3.1.7's bug, its kept JOINLIST makes
				// its process a ghost member.
				tw.startRound(2)
				tw.settle()
				for i := range 3000 {
					tw.randomStep()
					if i%500 == 499 {
						tw.handover()
					}
				}
				tw.settle()
				tw.sameSnapshots()
				if tw.handovers < 7 || tw.rounds < 50 || tw.aborts == 0 || tw.detaches == 0 {
					t.Fatalf("seed %d: %d handovers, %d rounds, %d aborts, %d detachments: the input no longer covers them", seed, tw.handovers, tw.rounds, tw.aborts, tw.detaches)
				}
			}
		})
	}
}

// TestSnapshotNotQuiet: Snapshot refuses a core that is not quiet, saying
// why, and Quiet says the same.
func TestSnapshotNotQuiet(t *testing.T) {
	cases := []struct {
		name string
		make func(tw *twin)
		want string
	}{
		{"round in progress", func(tw *twin) { tw.startRound(2) }, "sync round 2 in progress"},
		{"round processed", func(tw *twin) { tw.startRound(2); tw.process() }, "sync round 2 in progress"},
		{"own PROCJOIN on its way", func(tw *twin) { tw.connect(); tw.join(1, "g", 7, 0) }, "1 own PROCJOIN/PROCLEAVE not delivered yet"},
		{"Ready not drained", func(tw *twin) {
			tw.connect()
			tw.join(1, "g", 7, 0)
			tw.settle()
			tw.c().Mcast(1, []byte("x"))
		}, "Ready not drained (1 multicasts, 0 events)"},
		{"detached", func(tw *twin) { tw.detach() }, "holding ring messages"},
	}
	check := func(name string, c *Core, want string) {
		ok, why := c.Quiet()
		_, err := c.Snapshot()
		if ok || err == nil || !strings.Contains(why, want) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: quiet %v (%q), snapshot error %v; want not quiet: %q", name, ok, why, err, want)
		}
	}
	fresh, _ := New(Config{NodeID: 1})
	check("fresh core, no round yet", fresh, "holding ring messages until a sync round activates")
	for _, tc := range cases {
		tw := newTwin(t, 1, false)
		tw.startRound(2)
		tw.settle()
		if ok, why := tw.c().Quiet(); !ok {
			t.Fatalf("%s: not quiet after the first round: %s", tc.name, why)
		}
		tc.make(tw)
		check(tc.name, tw.c(), tc.want)
	}
}
