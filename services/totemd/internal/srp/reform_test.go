package srp

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestReformFormsTheSameRingAgain: Reform on any member (the
// representative or not) installs a new ring of the same members at once,
// without a token loss anywhere; the messages of the old ring are
// delivered on every member before the transitional configuration, in the
// same order, and the new ring carries traffic.
func TestReformFormsTheSameRingAgain(t *testing.T) {
	for _, who := range []NodeID{1, 3} {
		t.Run(fmt.Sprintf("node%d", who), func(t *testing.T) {
			h := newHarness(t, 3)
			h.startAll()
			formRing(t, h, 1, 2, 3)
			h.run(time.Second) // past settling
			old := h.node(1).n.Status().Ring
			confsBefore := map[NodeID]int{}
			for _, hn := range h.nodes {
				confsBefore[hn.id] = len(hn.confs())
			}
			sendBurst(h, 20, 1, 2, 3)
			h.run(time.Duration(who) * time.Millisecond) // some of it on the wire
			n := h.node(who)
			n.n.Reform(h.now)
			h.drain(n)
			if st := n.n.Status().State; st != Gather && st != Commit {
				t.Fatalf("state %d after Reform, want GATHER (or COMMIT)", st)
			}
			asked := h.now
			if !h.runUntil(10*time.Second, func() bool {
				return h.operational(1, 2, 3) && h.node(1).n.Status().Ring != old
			}) {
				t.Fatalf("no new ring by t=%v", h.now)
			}
			cfg := DefaultConfig(1, h.ids)
			if took := h.now - asked; took > 2*(cfg.Join+cfg.Consensus) {
				t.Errorf("new ring after %v, want within 2×(join+consensus) = %v", took, 2*(cfg.Join+cfg.Consensus))
			}
			ring := h.node(1).n.Status().Ring
			if ring.Seq <= old.Seq {
				t.Errorf("new ring %v after %v: want a larger seq", ring, old)
			}
			h.run(time.Second)
			for _, hn := range h.nodes {
				c := hn.n.Status().Counters
				if c.TokenTimeouts != 0 || c.TokenLost != 0 {
					t.Errorf("node %d: %d token timeouts, %d token losses, want none", hn.id, c.TokenTimeouts, c.TokenLost)
				}
				tr, reg := lastConfs(t, hn)
				if !slices.Equal(tr.Members, []NodeID{1, 2, 3}) || len(tr.Left) != 0 ||
					!slices.Equal(reg.Members, []NodeID{1, 2, 3}) || len(reg.Joined) != 0 || reg.Ring != ring {
					t.Errorf("node %d: configurations %+v then %+v, want the same members, nobody left or joined", hn.id, tr, reg)
				}
				if got := len(hn.confs()) - confsBefore[hn.id]; got != 2 {
					t.Errorf("node %d: %d configurations since the reform, want 2", hn.id, got)
				}
				if got := len(hn.messages()); got != 60 {
					t.Errorf("node %d delivered %d messages, want 60", hn.id, got)
				}
			}
			want := stream(h.node(1), old)
			for _, hn := range h.nodes[1:] {
				if got := stream(hn, old); !slices.Equal(got, want) {
					t.Errorf("node %d delivered\n%v\nnode 1\n%v", hn.id, got, want)
				}
			}
			sendBurst(h, 5, 1, 2, 3)
			h.run(time.Second)
			if got := len(h.node(2).messages()); got != 75 {
				t.Errorf("node 2 delivered %d messages, want 75", got)
			}
		})
	}
}

// TestReformOutsideOperational: in GATHER a new ring is on its way and
// Reform does nothing; right after an installation (settling) it waits
// for the second token visit.
func TestReformOutsideOperational(t *testing.T) {
	u := newUnit(t, 2, []NodeID{1, 2, 3}, nil)
	u.take()
	before := u.n.counters.GatherEntered
	u.n.Reform(u.now)
	u.collect()
	if u.n.counters.GatherEntered != before || len(u.take().Sends) != 0 {
		t.Error("Reform in GATHER entered GATHER again or sent something")
	}

	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	n := h.node(2).n
	n.settleVisits = 0
	old := n.Status().Ring
	n.Reform(h.now)
	h.drain(h.node(2))
	if n.state != Operational || !n.reformPending {
		t.Fatalf("state %d, pending %v: want OPERATIONAL with the reform pending while settling", n.state, n.reformPending)
	}
	gathers := n.counters.GatherEntered
	h.runUntil(5*time.Second, func() bool { return n.counters.GatherEntered > gathers })
	if n.settleVisits < 2 || n.reformPending {
		t.Errorf("GATHER after %d token visits (pending %v), want 2", n.settleVisits, n.reformPending)
	}
	if !h.runUntil(10*time.Second, func() bool { return h.operational(1, 2, 3) && n.Status().Ring != old }) {
		t.Fatal("no new ring after the deferred reform")
	}
}

// stream lists a node's messages and configurations after the regular
// configuration of ring old, in delivery order.
func stream(hn *hnode, old RingID) []string {
	var out []string
	for _, d := range hn.deliveries {
		switch {
		case d.Conf != nil && d.Conf.Type == Regular && d.Conf.Ring == old:
			out = out[:0]
		case d.Conf != nil:
			out = append(out, fmt.Sprintf("conf %d %x.%x", d.Conf.Type, d.Conf.Ring.Rep, d.Conf.Ring.Seq))
		default:
			out = append(out, fmt.Sprintf("%d:%s", d.From, d.Payload))
		}
	}
	return out
}
