package srp

import (
	"testing"
	"time"
)

// TestSignalReleasesHeldToken: on an idle ring the representative holds
// the token; Signal (a message entered totempg's buffer) cancels the hold
// at once, as totemsrp_event_signal does, and the message gets a token
// without waiting out the hold.
func TestSignalReleasesHeldToken(t *testing.T) {
	h := newHarness(t, 2)
	h.startAll()
	if !h.runUntil(10*time.Second, func() bool { return h.operational(1, 2) }) {
		t.Fatal("no ring")
	}
	h.run(5 * time.Second) // idle: the representative holds the token
	rep := h.node(1).n
	before := rep.Status().Counters.TokenHoldCancelTx
	rep.Signal(h.now)
	h.drain(h.node(1))
	if got := rep.Status().Counters.TokenHoldCancelTx; got != before+1 {
		t.Fatalf("hold cancels sent %d → %d, want one more", before, got)
	}
	// A second signal with nothing held sends nothing.
	rep.Signal(h.now)
	if got := rep.Status().Counters.TokenHoldCancelTx; got != before+1 {
		t.Fatalf("a signal without a held token sent a cancel")
	}
}
