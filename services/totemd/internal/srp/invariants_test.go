package srp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestBrokenInvariantLeavesTheRing: node 2's state is corrupted on its
// first token visit of a ring (Faults.BreakAru); it must notice at once,
// hand out no delivery from then on, report the broken invariant in
// Ready.Broken and Status.Broken, and leave, so nodes 1 and 3 re-form
// without it on its leave message instead of waiting out the token.
func TestBrokenInvariantLeavesTheRing(t *testing.T) {
	h := newHarness(t, 3)
	var broken error
	h.mutate = func(c *Config) { c.Faults.BreakAru = c.Self == 2 }
	h.startAll()
	formRing(t, h, 1, 2, 3)
	// Node 2 breaks down on its first token visit of the ring.
	h.run(50 * time.Millisecond)
	n2 := h.node(2)
	if broken = n2.n.Status().Broken; broken == nil {
		t.Fatal("node 2's corrupted my_aru went unnoticed")
	}
	if !errors.Is(broken, ErrInvariant) {
		t.Fatalf("Broken = %v, want it to wrap ErrInvariant", broken)
	}
	t.Logf("node 2: %v", broken)
	before := len(n2.deliveries)
	for i := 0; i < 5; i++ {
		h.mcast(1, fmt.Sprintf("after-%d", i))
	}
	start := h.now
	if !h.runUntil(5*time.Second, func() bool { return h.operational(1, 3) && len(h.node(1).n.Status().Members) == 2 }) {
		t.Fatal("nodes 1 and 3 did not re-form without node 2")
	}
	if took := h.now - start; took >= DefaultConfig(1, h.ids).Token {
		t.Errorf("re-forming took %v: the leave message was not heard (token timeout %v)", took, DefaultConfig(1, h.ids).Token)
	}
	h.run(time.Second)
	if got := len(n2.deliveries); got != before {
		t.Errorf("node 2 delivered %d more after breaking down", got-before)
	}
	if rd := n2.n.Ready(); !errors.Is(rd.Broken, ErrInvariant) {
		t.Errorf("Ready.Broken = %v after the breakdown", rd.Broken)
	}
}
