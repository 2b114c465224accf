package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// TestWholeNodeSeeds runs whole-node simulations (node stacks with
// simulated service daemons that attach, multicast with TryAgain, take
// part in sync, detach, crash and restart) over a few dozen seeds and
// ring sizes, and wants no violation.
func TestWholeNodeSeeds(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		n := 3 + int(seed%4)
		r := RunWhole(WholeOptions{Seed: 700000 + seed, Nodes: n})
		if r.Total > 0 {
			var b strings.Builder
			for _, v := range r.Violations {
				b.WriteString("\n  " + v.String())
			}
			t.Errorf("seed %d, %d nodes: %d violations:%s\nreplay: %s", r.Seed, r.Nodes, r.Total, b.String(), r.ReplayCommand())
			continue
		}
		if r.Formed == 0 || r.Accepted == 0 || r.Delivered == 0 || r.Restarts == 0 || r.Rounds == 0 {
			t.Errorf("seed %d: a run that tested little: %+v", r.Seed, r)
		}
	}
}

// TestWholeNodeBrokenCore: a node stack whose srp finds its own state
// broken (Faults.BreakAru) is reported as an invariant violation.
func TestWholeNodeBrokenCore(t *testing.T) {
	r := RunWhole(WholeOptions{Seed: 700001, Nodes: 3, CoreFaults: srp.Faults{BreakAru: true}})
	for _, v := range r.Violations {
		if v.Kind == KindInvariant {
			t.Logf("%v", v)
			return
		}
	}
	t.Fatalf("no invariant violation reported: %v", r.Violations)
}

// TestWholeNodeTrace replays one run with a trace (WHOLE_TRACE=1 prints it).
func TestWholeNodeTrace(t *testing.T) {
	var b strings.Builder
	r := RunWhole(WholeOptions{Seed: 700001, Nodes: 3, Trace: &b})
	if os.Getenv("WHOLE_TRACE") != "" {
		t.Log(b.String())
	}
	if b.Len() == 0 || r.Total > 0 {
		t.Fatalf("trace %d bytes, %d violations", b.Len(), r.Total)
	}
}

// svcMsg is a simulated daemon's message, as daemon.go's newMsg makes it.
func svcMsg(node uint32, svc uint16, id uint64, ringSeq uint64) []byte {
	d := &simDaemon{node: &wnode{id: srp.NodeID(node)}, svc: svc, inc: 1, ringSeq: ringSeq}
	st := &stream{nextID: id - 1}
	return d.newMsg(st, 0).payload
}

// TestSvcCheckerCatches: histories built by hand that break what the
// service checker guards are reported, and a consistent one is not.
func TestSvcCheckerCatches(t *testing.T) {
	view := func(c *SvcChecker, o *SvcIncarnation, typ ring.ConfType, members []uint32) {
		c.ConfChg(o, 0, &ring.ConfChg{Type: typ, Ring: ring.ID{Rep: 1, Seq: 8}, Members: members, RingMembers: []uint32{1, 2, 3}})
	}
	attached := &ipcproto.Msg{Kind: ipcproto.KindAttached, Ring: &ring.ID{Rep: 1, Seq: 8}, RingMembers: []uint32{1, 2, 3}}
	for _, tc := range []struct {
		name string
		a, b []uint64 // ids n1 sent, as n1's and n2's daemons delivered them
		kind Kind
	}{
		{"same", []uint64{1, 2, 3}, []uint64{1, 2, 3}, ""},
		{"window", []uint64{1, 2, 3}, []uint64{2, 3}, ""},
		{"gap", []uint64{1, 2, 3}, []uint64{1, 3}, KindService},
		{"sender order", []uint64{1, 2, 3}, []uint64{2, 1, 3}, KindOrder},
	} {
		c := NewSvcChecker()
		var os []*SvcIncarnation
		for node, ids := range [][]uint64{tc.a, tc.b} {
			o := c.Attach(srp.NodeID(node+1), 2, 1, 0)
			c.Attached(o, 0, attached)
			view(c, o, ring.Transitional, []uint32{1, 2})
			view(c, o, ring.Regular, []uint32{1, 2})
			for _, id := range ids {
				c.Deliver(o, 0, 1, svcMsg(1, 2, id, 8))
			}
			os = append(os, o)
		}
		c.Finish(0)
		switch {
		case tc.kind == "" && c.Total() > 0:
			t.Errorf("%s: %v", tc.name, c.Violations())
		case tc.kind != "" && (c.Total() == 0 || c.Violations()[0].Kind != tc.kind):
			t.Errorf("%s: want a %s violation, got %v", tc.name, tc.kind, c.Violations())
		}
	}
	c := NewSvcChecker()
	o := c.Attach(1, 2, 1, 0)
	c.Attached(o, 0, attached)
	c.Deliver(o, 0, 1, svcMsg(1, 2, 1, 9)) // sent in a ring the daemon has not seen
	if c.Total() != 1 || c.Violations()[0].Kind != KindBus {
		t.Errorf("a delivery ahead of its ring: %v", c.Violations())
	}
}
