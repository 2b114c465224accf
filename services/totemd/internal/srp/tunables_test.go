package srp

import (
	"testing"
	"time"
)

// TestSetTunablesChangesTheTokenTimeout: the token timeout set on a
// running ring is the one the next token loss waits for, as corosync
// applies a reloaded totem.token.
func TestSetTunablesChangesTheTokenTimeout(t *testing.T) {
	lossAfter := func(token time.Duration) time.Duration {
		h := newHarness(t, 2)
		h.startAll()
		if !h.runUntil(10*time.Second, func() bool { return h.operational(1, 2) }) {
			t.Fatal("no ring")
		}
		if token != 0 {
			n := h.node(1).n
			tu := n.Tunables()
			tu.Token, tu.Consensus = token, token*6/5
			if err := n.SetTunables(tu); err != nil {
				t.Fatal(err)
			}
			if got := n.Tunables().Token; got != token {
				t.Fatalf("token in force %v, want %v", got, token)
			}
		}
		h.run(time.Second) // the token timer is re-armed with the new value
		h.kill(2)
		start := h.now
		if !h.runUntil(time.Minute, func() bool { return h.node(1).n.Status().State != Operational }) {
			t.Fatal("node 1 never noticed the loss")
		}
		return h.now - start
	}
	if d := lossAfter(0); d > 3500*time.Millisecond {
		t.Fatalf("default ring: token lost after %v, want about 3 s", d)
	}
	if d := lossAfter(10 * time.Second); d < 9*time.Second {
		t.Fatalf("after SetTunables(token 10 s): token lost after %v", d)
	}
}

// TestSetTunablesRefusesWhole: a set New would refuse changes nothing.
func TestSetTunablesRefusesWhole(t *testing.T) {
	n, err := New(DefaultConfig(1, []NodeID{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	before := n.Tunables()
	bad := before
	bad.Token = 9 * time.Second
	bad.WindowSize = 100000
	if err := n.SetTunables(bad); err == nil {
		t.Fatal("a window beyond the sort queue was accepted")
	}
	if n.Tunables() != before {
		t.Fatalf("a refused set changed the settings: %+v", n.Tunables())
	}
}

// TestSetNodes: an added node's frames are accepted; the local node cannot
// be removed.
func TestSetNodes(t *testing.T) {
	n, err := New(DefaultConfig(1, []NodeID{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetNodes([]NodeID{2, 3}); err == nil {
		t.Fatal("a nodelist without this node was accepted")
	}
	if err := n.SetNodes([]NodeID{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if !n.known[3] {
		t.Fatal("node 3 not known after SetNodes")
	}
}
