package srp

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"
)

func formRing(t *testing.T, h *harness, ids ...NodeID) {
	t.Helper()
	if !h.runUntil(10*time.Second, func() bool { return h.operational(ids...) }) {
		for _, hn := range h.nodes {
			if hn.up {
				st := hn.n.Status()
				t.Logf("node %d: state %d ring %x.%x members %v", hn.id, st.State, st.Ring.Rep, st.Ring.Seq, st.Members)
			}
		}
		t.Fatalf("nodes %v did not form a ring by t=%v", ids, h.now)
	}
}

func lastConfs(t *testing.T, hn *hnode) (ConfChange, ConfChange) {
	t.Helper()
	c := hn.confs()
	if len(c) < 2 {
		t.Fatalf("node %d delivered %d configurations, want ≥ 2", hn.id, len(c))
	}
	tr, reg := c[len(c)-2], c[len(c)-1]
	if tr.Type != Transitional || reg.Type != Regular {
		t.Fatalf("node %d: last configurations are %v then %v, want transitional then regular", hn.id, tr.Type, reg.Type)
	}
	return tr, reg
}

func TestColdStartThreeNodes(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	if h.now > time.Second {
		t.Errorf("cold formation took %v, want well under a second", h.now)
	}
	ring := h.node(1).n.Status().Ring
	if ring.Rep != 1 {
		t.Errorf("ring rep = %d, want 1 (lowest nodeid)", ring.Rep)
	}
	for _, hn := range h.nodes {
		_, reg := lastConfs(t, hn)
		if !slices.Equal(reg.Members, []NodeID{1, 2, 3}) || reg.Ring != ring {
			t.Errorf("node %d regular conf %+v, want members [1 2 3] ring %v", hn.id, reg, ring)
		}
		if hn.persisted != ring.Seq {
			t.Errorf("node %d persisted ring seq %d, want %d", hn.id, hn.persisted, ring.Seq)
		}
	}
	// The ring stays up while idle (token hold, merge detects) for a while.
	h.run(20 * time.Second)
	if !h.operational(1, 2, 3) || h.node(1).n.Status().Ring != ring {
		t.Fatalf("idle ring changed: %+v", h.node(1).n.Status())
	}
}

func sendBurst(h *harness, perNode int, ids ...NodeID) {
	for i := 0; i < perNode; i++ {
		for _, id := range ids {
			h.mcast(id, fmt.Sprintf("m%d-%d", id, i))
		}
	}
}

func TestAgreedOrderSameOnAllNodes(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	sendBurst(h, 300, 1, 2, 3)
	h.run(5 * time.Second)
	want := h.node(1).messages()
	if len(want) != 900 {
		t.Fatalf("node 1 delivered %d messages, want 900", len(want))
	}
	for _, hn := range h.nodes[1:] {
		if got := hn.messages(); !slices.Equal(got, want) {
			t.Fatalf("node %d delivered a different sequence (%d messages)", hn.id, len(got))
		}
	}
	// Per-sender FIFO order.
	next := map[string]int{}
	for _, m := range want {
		var from, i int
		fmt.Sscanf(m[2:], "m%d-%d", &from, &i)
		key := fmt.Sprint(from)
		if i != next[key] {
			t.Fatalf("message %s out of sender order (want index %d)", m, next[key])
		}
		next[key]++
	}
}

func TestNodeFailureFormsNewRing(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	sendBurst(h, 20, 1, 2, 3)
	h.run(time.Second)
	old := h.node(1).n.Status().Ring
	h.kill(3)
	killedAt := h.now
	formRing(t, h, 1, 2)
	took := h.now - killedAt
	cfg := DefaultConfig(1, h.ids)
	if took < cfg.Token || took > cfg.Token+cfg.Consensus+time.Second {
		t.Errorf("new ring after %v, want between token (%v) and token+consensus", took, cfg.Token)
	}
	for _, id := range []NodeID{1, 2} {
		hn := h.node(id)
		tr, reg := lastConfs(t, hn)
		if !slices.Equal(tr.Members, []NodeID{1, 2}) || !slices.Equal(tr.Left, []NodeID{3}) || len(tr.Joined) != 0 {
			t.Errorf("node %d transitional conf %+v, want members [1 2] left [3]", id, tr)
		}
		if !slices.Equal(reg.Members, []NodeID{1, 2}) || len(reg.Joined) != 0 || len(reg.Left) != 0 {
			t.Errorf("node %d regular conf %+v, want members [1 2]", id, reg)
		}
		if reg.Ring.Seq <= old.Seq || reg.Ring.Seq%4 != old.Seq%4 {
			t.Errorf("node %d new ring %v after %v: want a larger seq, old + 4k", id, reg.Ring, old)
		}
	}
	if !slices.Equal(h.node(1).messages(), h.node(2).messages()) {
		t.Errorf("survivors delivered different messages")
	}
	// The new ring carries traffic.
	sendBurst(h, 10, 1, 2)
	h.run(time.Second)
	if got := len(h.node(2).messages()); got != 60+20 {
		t.Errorf("node 2 delivered %d messages, want 80", got)
	}
}

func TestLeaveIsQuick(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	h.node(3).n.Leave(h.now)
	h.drain(h.node(3))
	h.kill(3)
	left := h.now
	formRing(t, h, 1, 2)
	if took := h.now - left; took > 500*time.Millisecond {
		t.Errorf("ring re-formed %v after the leave, want < 500ms", took)
	}
	tr, _ := lastConfs(t, h.node(1))
	if !slices.Equal(tr.Left, []NodeID{3}) {
		t.Errorf("transitional left = %v, want [3]", tr.Left)
	}
}

func TestRestartedNodeRejoins(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	h.kill(3)
	formRing(t, h, 1, 2)
	two := h.node(1).n.Status().Ring
	h.node(3).deliveries = nil
	h.start(3)
	formRing(t, h, 1, 2, 3)
	three := h.node(1).n.Status().Ring
	if three.Seq <= two.Seq {
		t.Errorf("rejoined ring %v not newer than %v", three, two)
	}
	_, reg := lastConfs(t, h.node(1))
	if !slices.Equal(reg.Joined, []NodeID{3}) {
		t.Errorf("node 1 regular conf joined = %v, want [3]", reg.Joined)
	}
	sendBurst(h, 10, 1, 2, 3)
	h.run(time.Second)
	want := h.node(1).messages()
	if got := h.node(3).messages(); !slices.Equal(got[len(got)-30:], want[len(want)-30:]) {
		t.Errorf("rejoined node delivered a different tail")
	}
}

// TestLostMessagesAreRetransmitted drops a share of first transmissions of
// MCAST frames on the wire; retransmission must fill every gap.
func TestLostMessagesAreRetransmitted(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	seen := map[string]bool{}
	original := map[string][]byte{} // ring id + seq → first copy on the wire
	n := 0
	h.drop = func(p *packet) bool {
		if p.frame[3] != byte(typeMcast) || p.from == p.to {
			return false
		}
		id := string(p.frame[17:21]) + string(p.frame[25:37])
		if o, ok := original[id]; !ok {
			original[id] = p.frame
		} else if !bytes.Equal(o, p.frame) {
			t.Errorf("retransmitted frame differs from the original:\n%x\n%x", o, p.frame)
		}
		key := fmt.Sprintf("%d>%d:%x", p.from, p.to, p.frame[17:21])
		if seen[key] {
			return false
		}
		seen[key] = true
		n++
		return n%4 == 0
	}
	sendBurst(h, 200, 1, 2, 3)
	h.run(10 * time.Second)
	want := h.node(1).messages()
	if len(want) != 600 {
		t.Fatalf("node 1 delivered %d, want 600", len(want))
	}
	var retx uint64
	for _, hn := range h.nodes {
		if got := hn.messages(); !slices.Equal(got, want) {
			t.Fatalf("node %d delivered a different sequence (%d)", hn.id, len(got))
		}
		retx += hn.n.Status().Counters.RxRetransmits
	}
	if retx == 0 {
		t.Error("no retransmissions counted")
	}
	if !h.operational(1, 2, 3) {
		t.Error("ring did not stay operational")
	}
}

// TestRecoveryDeliversOldRingMessages: node 3's last messages reach only
// node 1 before node 3 dies; recovery must bring them to node 2 so both
// survivors deliver the same old-ring messages (extended virtual synchrony).
func TestRecoveryDeliversOldRingMessages(t *testing.T) {
	check := func(t *testing.T, skipFlush bool) (equal bool) {
		h := newHarness(t, 3)
		h.mutate = func(c *Config) { c.Faults.SkipOldRingFlush = skipFlush }
		h.startAll()
		formRing(t, h, 1, 2, 3)
		sendBurst(h, 5, 1, 2, 3)
		h.run(time.Second)
		// From now on node 2 hears nothing from node 3, and node 3 dies
		// right after its next token visit.
		h.drop = func(p *packet) bool { return p.from == 3 && p.to == 2 && p.frame[3] == byte(typeMcast) }
		for i := 0; i < 5; i++ {
			h.mcast(3, fmt.Sprintf("last-%d", i))
		}
		h.runUntil(time.Second, func() bool { return h.node(3).n.Status().HighSeq >= 20 })
		h.kill(3)
		formRing(t, h, 1, 2)
		m1, m2 := h.node(1).messages(), h.node(2).messages()
		if !slices.Contains(m1, "3:last-4") {
			t.Fatalf("node 1 never got node 3's last message: %v", m1[len(m1)-5:])
		}
		return slices.Equal(m1, m2)
	}
	if !check(t, false) {
		t.Fatal("survivors delivered different old-ring messages")
	}
	if check(t, true) {
		t.Error("Faults.SkipOldRingFlush did not break extended virtual synchrony")
	}
}
