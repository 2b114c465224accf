package srp

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// unit is one node driven by hand-made frames.
type unit struct {
	t   *testing.T
	n   *Node
	now Time
	r   Ready // everything since the last take
}

func newUnit(t *testing.T, self NodeID, nodes []NodeID, mutate func(*Config)) *unit {
	t.Helper()
	cfg := DefaultConfig(self, nodes)
	cfg.RingSeq = 5
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := &unit{t: t, n: n}
	n.Start(0)
	u.collect()
	return u
}

func (u *unit) collect() {
	r := u.n.Ready()
	u.r.Sends = append(u.r.Sends, r.Sends...)
	u.r.Deliveries = append(u.r.Deliveries, r.Deliveries...)
	if r.PersistRingSeq != 0 {
		u.r.PersistRingSeq = r.PersistRingSeq
	}
}

// take returns and clears what was collected.
func (u *unit) take() Ready {
	r := u.r
	u.r = Ready{}
	return r
}

func (u *unit) recv(frame []byte) {
	u.t.Helper()
	u.now += time.Millisecond
	if err := u.n.Receive(u.now, frame); err != nil {
		u.t.Fatal(err)
	}
	u.collect()
}

func (u *unit) tick(d time.Duration) {
	u.now += d
	u.n.Tick(u.now)
	u.collect()
}

// sent decodes the frames of one type that were sent.
func sent(t *testing.T, r Ready, typ msgType) []decoded {
	t.Helper()
	var out []decoded
	for _, s := range r.Sends {
		d, err := decodeFrame(s.Frame, nil)
		if err != nil {
			t.Fatalf("node sent an undecodable frame: %v", err)
		}
		if d.hdr.typ == typ {
			out = append(out, d)
		}
	}
	return out
}

func joinFrame(from NodeID, proc, failed []NodeID, ringSeq uint64) []byte {
	j := joinMsg{hdr: header{nodeID: from}, from: from, proc: proc, failed: failed, ringSeq: ringSeq}
	return j.appendTo(nil)
}

func TestStartSendsJoinWithRingSeq(t *testing.T) {
	u := newUnit(t, 2, []NodeID{1, 2}, nil)
	joins := sent(t, u.take(), typeJoin)
	if len(joins) != 1 {
		t.Fatalf("start sent %d joins, want 1", len(joins))
	}
	j := joins[0].join
	if j.ringSeq != 5 || !slices.Equal(j.proc, []NodeID{2}) || len(j.failed) != 0 || j.hdr.nodeID != 2 {
		t.Errorf("join %+v, want proc [2] ring_seq 5", j)
	}
	if st := u.n.Status(); st.State != Gather || st.Ring != (RingID{2, 5}) {
		t.Errorf("status %+v, want GATHER on ring 2.5", st)
	}
	// The join timer resends every Join period.
	u.tick(50 * time.Millisecond)
	if len(sent(t, u.take(), typeJoin)) != 1 {
		t.Error("join timer did not resend the join")
	}
}

func TestJoinProcessRules(t *testing.T) {
	tests := []struct {
		name       string
		self       NodeID
		join       []byte
		wantState  State
		wantProc   []NodeID
		wantFailed []NodeID
		wantJoins  int // joins sent in reaction
	}{{
		name: "news: proc grows, gather re-entered",
		self: 2, join: joinFrame(3, []NodeID{3, 1}, nil, 5),
		wantState: Gather, wantProc: []NodeID{2, 3, 1}, wantJoins: 1,
	}, {
		// corosync fails the sender too; needle does not adopt a verdict
		// that may be a round old (it only learns the sender's proc)
		name: "sender lists us failed: proc grows, sender not failed",
		self: 2, join: joinFrame(3, []NodeID{3}, []NodeID{2}, 5),
		wantState: Gather, wantProc: []NodeID{2, 3}, wantJoins: 1,
	}, {
		name: "sender lists us failed, nothing else new: nothing",
		self: 2, join: joinFrame(3, []NodeID{2}, []NodeID{2}, 5),
		wantState: Gather, wantProc: []NodeID{2},
	}, {
		name: "subset (sender behind): nothing",
		self: 2, join: joinFrame(3, nil, nil, 5),
		wantState: Gather, wantProc: []NodeID{2},
	}, {
		// corosync ignores this failed list; needle adopts the verdict on
		// a processor it has never heard from (see adoptSilentFailed)
		name: "sender not in our ring fails a silent processor: adopted",
		self: 2, join: joinFrame(3, []NodeID{2}, []NodeID{1}, 5),
		wantState: Gather, wantProc: []NodeID{2}, wantFailed: []NodeID{1}, wantJoins: 1,
	}, {
		name: "equal sets from self, lowest: commit",
		self: 2, join: joinFrame(2, []NodeID{2}, nil, 5),
		wantState: Commit, wantProc: []NodeID{2},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t, tc.self, []NodeID{1, 2, 3}, nil)
			u.take()
			u.recv(tc.join)
			r := u.take()
			if u.n.state != tc.wantState || !slices.Equal(u.n.proc, tc.wantProc) || !slices.Equal(u.n.failed, tc.wantFailed) {
				t.Errorf("state %d proc %v failed %v; want %d %v %v", u.n.state, u.n.proc, u.n.failed, tc.wantState, tc.wantProc, tc.wantFailed)
			}
			if got := len(sent(t, r, typeJoin)); got != tc.wantJoins {
				t.Errorf("sent %d joins, want %d", got, tc.wantJoins)
			}
		})
	}
}

// TestForeignFailedOnlyForSilent: a failed list from outside our ring is
// adopted only for processors silent for a consensus period; otherwise it
// changes nothing and does not restart GATHER (that would be a livelock
// when two nodes do it to each other, as corosync does).
func TestForeignFailedOnlyForSilent(t *testing.T) {
	cons := DefaultConfig(2, []NodeID{1, 2, 3}).Consensus
	tests := []struct {
		name       string
		heardAgo   time.Duration // last frame from 1 before the join; 0: never
		wantFailed []NodeID
		wantJoins  int
	}{
		{name: "heard just now: nothing", heardAgo: time.Millisecond},
		{name: "heard a consensus period ago: adopted", heardAgo: cons, wantFailed: []NodeID{1}, wantJoins: 1},
		{name: "never heard: adopted", wantFailed: []NodeID{1}, wantJoins: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t, 2, []NodeID{1, 2, 3}, nil)
			if tc.heardAgo > 0 {
				u.recv(joinFrame(1, []NodeID{1}, nil, 5)) // 1 is news: proc {2,1}
				u.tick(tc.heardAgo - time.Millisecond)    // recv adds the last ms
			}
			u.take()
			failedBefore := slices.Clone(u.n.failed)
			u.recv(joinFrame(3, u.n.proc, []NodeID{1}, 5))
			got := slices.DeleteFunc(slices.Clone(u.n.failed), func(p NodeID) bool { return slices.Contains(failedBefore, p) })
			if !slices.Equal(got, tc.wantFailed) {
				t.Errorf("failed grew by %v, want %v", got, tc.wantFailed)
			}
			if n := len(sent(t, u.take(), typeJoin)); n != tc.wantJoins {
				t.Errorf("sent %d joins, want %d", n, tc.wantJoins)
			}
		})
	}
}

func TestJoinFromFailedProcessorIgnored(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2, 3, 4}, nil)
	u.recv(joinFrame(3, []NodeID{3, 1}, []NodeID{2}, 5)) // news: proc {1,3}; 3 is no member, failed unchanged
	u.n.failed = []NodeID{3}
	u.take()
	u.recv(joinFrame(3, []NodeID{3, 1, 4}, nil, 5))
	if slices.Contains(u.n.proc, 4) || len(sent(t, u.take(), typeJoin)) != 0 {
		t.Errorf("join from a failed processor changed proc to %v", u.n.proc)
	}
}

// TestCommitTokenAndRingSeq: the rep's commit token uses max seen + 4 and
// travels with memb_index and token_seq incremented.
func TestCommitTokenAndRingSeq(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2}, nil)
	u.recv(joinFrame(2, []NodeID{2, 1}, nil, 100)) // news, raises token_ring_id_seq to 100
	u.take()
	u.recv(joinFrame(1, []NodeID{1, 2}, nil, 5)) // our own join back
	u.recv(joinFrame(2, []NodeID{1, 2}, nil, 100))
	r := u.take()
	c := sent(t, r, typeCommitToken)
	if len(c) != 1 {
		t.Fatalf("sent %d commit tokens, want 1", len(c))
	}
	ct := c[0].commit
	if ct.ring != (RingID{1, 104}) || ct.membIndex != 1 || ct.tokenSeq != 1 || !slices.Equal(ct.addrs, []NodeID{1, 2}) {
		t.Errorf("commit token %+v, want ring 1.104 index 1 token_seq 1", ct)
	}
	if ct.entries[0].ring != (RingID{1, 5}) || ct.entries[0].receivedFlg != 1 || ct.entries[1] != (commitEntry{}) {
		t.Errorf("entries %+v", ct.entries)
	}
	if r.Sends[len(r.Sends)-1].To != 2 {
		t.Errorf("commit token sent to %d, want successor 2", r.Sends[len(r.Sends)-1].To)
	}
	if r.PersistRingSeq != 104 || u.n.state != Commit {
		t.Errorf("persist %d state %d, want 104 COMMIT", r.PersistRingSeq, u.n.state)
	}
	// Token retransmit timer resends the same commit token.
	u.tick(DefaultConfig(1, []NodeID{1, 2}).TokenRetransmit)
	if again := sent(t, u.take(), typeCommitToken); len(again) != 1 || again[0].commit.tokenSeq != 1 {
		t.Errorf("retransmitted commit token %+v", again)
	}
	// Second lap: node 2 filled its entry; we enter RECOVERY and forward.
	ct.membIndex, ct.tokenSeq = 2, 2
	ct.entries[1] = commitEntry{ring: RingID{2, 100}, receivedFlg: 1}
	ct.hdr.nodeID = 2
	u.recv(ct.appendTo(nil))
	if u.n.state != Recovery {
		t.Fatalf("state %d after full lap, want RECOVERY", u.n.state)
	}
	fw := sent(t, u.take(), typeCommitToken)
	if len(fw) != 1 || fw[0].commit.tokenSeq != 3 {
		t.Fatalf("second lap forward %+v, want token_seq 3", fw)
	}
	// Third arrival: the rep originates the initial ORF token, once.
	ct.tokenSeq = 4
	u.recv(ct.appendTo(nil))
	u.recv(ct.appendTo(nil))
	toks := sent(t, u.take(), typeOrfToken)
	if len(toks) != 1 {
		t.Fatalf("sent %d initial tokens, want exactly 1", len(toks))
	}
	tk := toks[0].token
	if tk.seq != 0 || tk.tokenSeq != 0 || tk.aru != 0xFFFFFFFF || tk.aruAddr != 1 || tk.ring != (RingID{1, 104}) {
		t.Errorf("initial token %+v", tk)
	}
}

func TestCommitTokenForOtherMembersIgnored(t *testing.T) {
	u := newUnit(t, 2, []NodeID{1, 2, 3}, nil)
	c := commitToken{hdr: header{nodeID: 1}, tokenSeq: 1, ring: RingID{1, 9}, membIndex: 1,
		addrs: []NodeID{1, 2}, entries: make([]commitEntry, 2)}
	u.recv(c.appendTo(nil)) // our proc is {2}, not {1,2}
	if u.n.state != Gather {
		t.Fatalf("state %d, want GATHER", u.n.state)
	}
	u.recv(joinFrame(1, []NodeID{1, 2}, nil, 5))
	c.ring.Seq = 5 // not newer than ours
	u.recv(c.appendTo(nil))
	if u.n.state != Gather {
		t.Fatalf("accepted a commit token with an old ring seq")
	}
	c.ring.Seq = 9
	u.recv(c.appendTo(nil))
	if u.n.state != Commit || u.n.ring != (RingID{1, 9}) {
		t.Fatalf("state %d ring %v, want COMMIT on 1.9", u.n.state, u.n.ring)
	}
}

func TestStaleJoinFilteredInOperational(t *testing.T) {
	h := newHarness(t, 2)
	h.startAll()
	if !h.runUntil(time.Second, func() bool { return h.operational(1, 2) }) {
		t.Fatal("no ring")
	}
	n := h.node(1).n
	seq := n.ring.Seq
	_ = n.Receive(h.now, joinFrame(2, []NodeID{2}, nil, seq-4))
	if n.state != Operational {
		t.Errorf("a stale join from a member moved the node to %d", n.state)
	}
	_ = n.Receive(h.now, joinFrame(2, []NodeID{2}, []NodeID{1}, seq))
	if n.state != Operational {
		t.Errorf("a join listing us failed moved the node to %d", n.state)
	}
	_ = n.Receive(h.now, joinFrame(2, []NodeID{2}, nil, seq))
	if n.state != Gather {
		t.Errorf("a current join did not start GATHER (state %d)", n.state)
	}
}

func TestConsensusTimeoutFailsSilentProcessors(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2}, nil)
	u.recv(joinFrame(2, []NodeID{2, 1}, nil, 5))
	u.take()
	// Node 2 falls silent; consensus expires and marks it failed.
	u.tick(DefaultConfig(1, []NodeID{1, 2}).Consensus)
	if !slices.Equal(u.n.failed, []NodeID{2}) || u.n.state != Gather {
		t.Fatalf("after consensus timeout failed=%v state %d", u.n.failed, u.n.state)
	}
	j := sent(t, u.take(), typeJoin)
	if len(j) == 0 || !slices.Equal(j[len(j)-1].join.failed, []NodeID{2}) {
		t.Fatalf("join after timeout %+v", j)
	}
	u.recv(j[len(j)-1].frameFor(t))
	if u.n.state != Commit || !slices.Equal(u.n.newMemb, []NodeID{1}) {
		t.Fatalf("state %d new members %v, want a singleton COMMIT", u.n.state, u.n.newMemb)
	}
}

// TestJoinNamingUsFailedLeftToConsensus: a sender that names us failed is
// not failed at once (its verdict may be a round old), gets no consensus
// from us, and is failed by the consensus timeout if it keeps saying so.
func TestJoinNamingUsFailedLeftToConsensus(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2}, nil)
	u.recv(joinFrame(2, []NodeID{2, 1}, []NodeID{1}, 5))
	if len(u.n.failed) != 0 || u.n.state != Gather || slices.Contains(u.n.consensus, 2) {
		t.Fatalf("failed=%v consensus=%v state %d", u.n.failed, u.n.consensus, u.n.state)
	}
	u.take()
	u.tick(DefaultConfig(1, []NodeID{1, 2}).Consensus)
	if !slices.Equal(u.n.failed, []NodeID{2}) {
		t.Fatalf("after consensus timeout failed=%v", u.n.failed)
	}
	j := sent(t, u.take(), typeJoin)
	if len(j) == 0 {
		t.Fatal("no join after the consensus timeout")
	}
	u.recv(j[len(j)-1].frameFor(t))
	if u.n.state != Commit || !slices.Equal(u.n.newMemb, []NodeID{1}) {
		t.Fatalf("state %d new members %v, want a singleton COMMIT", u.n.state, u.n.newMemb)
	}
}

// frameFor re-encodes a decoded join (the node's own, looped back).
func (d decoded) frameFor(t *testing.T) []byte {
	t.Helper()
	return d.join.appendTo(nil)
}

func TestMcastQueueFull(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1}, func(c *Config) { c.NetMTU = 200 })
	payload := make([]byte, u.n.MaxPayload())
	if err := u.n.Mcast(0, append(payload, 0)); err == nil {
		t.Error("oversized payload accepted")
	}
	capacity := 4 * messageSizeMax / (200 - 90)
	for i := 0; i < capacity-1; i++ {
		if err := u.n.Mcast(0, payload); err != nil {
			t.Fatalf("mcast %d: %v", i, err)
		}
	}
	if err := u.n.Mcast(0, payload); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("mcast into a full queue: %v", err)
	}
	if a := u.n.Avail(); a != 0 {
		t.Errorf("Avail on a full queue = %d", a)
	}
}

func TestMergeDetectAfterPartitionHeals(t *testing.T) {
	h := newHarness(t, 3)
	h.startAll()
	formRing(t, h, 1, 2, 3)
	side := func(id NodeID) int {
		if id == 3 {
			return 1
		}
		return 0
	}
	h.drop = func(p *packet) bool { return side(p.from) != side(p.to) }
	formRing(t, h, 1, 2)
	if !h.runUntil(20*time.Second, func() bool { return h.operational(3) }) {
		t.Fatal("node 3 did not form a singleton ring")
	}
	h.drop = nil
	healed := h.now
	formRing(t, h, 1, 2, 3)
	if took := h.now - healed; took > 5*time.Second {
		t.Errorf("merge took %v", took)
	}
	if h.node(1).n.Status().Counters.MembMergeDetectTx == 0 && h.node(3).n.Status().Counters.MembMergeDetectTx == 0 {
		t.Error("no merge detect was sent")
	}
}

func TestTokenHoldAndCancel(t *testing.T) {
	h := newHarness(t, 2)
	h.startAll()
	formRing(t, h, 1, 2)
	h.run(2 * time.Second) // idle: the rep starts holding the token
	if !h.node(1).n.tokenHeld || !h.node(2).n.tokenHeld {
		t.Fatalf("token not held on an idle ring (rep %v, other %v)", h.node(1).n.tokenHeld, h.node(2).n.tokenHeld)
	}
	before := h.node(2).n.Status().Counters.TokenHoldCancelTx
	h.mcast(2, "wake")
	if h.node(2).n.Status().Counters.TokenHoldCancelTx != before+1 {
		t.Fatal("mcast on a held ring sent no TOKEN_HOLD_CANCEL")
	}
	sentAt := h.now
	if !h.runUntil(time.Second, func() bool { return len(h.node(1).messages()) == 1 }) {
		t.Fatal("message not delivered")
	}
	if took := h.now - sentAt; took > 10*time.Millisecond {
		t.Errorf("delivery took %v after the cancel, want the token released at once", took)
	}
}

func TestFailedToReceiveEvictsSelf(t *testing.T) {
	h := newHarness(t, 3)
	h.mutate = func(c *Config) { c.FailRecvConst = 10 }
	h.startAll()
	formRing(t, h, 1, 2, 3)
	// Node 3 stops receiving multicasts (it still gets tokens).
	h.drop = func(p *packet) bool { return p.to == 3 && p.from != 3 && p.frame[3] == byte(typeMcast) }
	sendBurst(h, 5, 1)
	formRing(t, h, 1, 2)
	if !h.runUntil(10*time.Second, func() bool { return h.operational(3) }) {
		t.Fatal("node 3 did not form its own ring")
	}
}

func TestManualTransAckGate(t *testing.T) {
	h := newHarness(t, 2)
	h.mutate = func(c *Config) { c.ManualTransAck = true }
	h.startAll()
	formRing(t, h, 1, 2)
	h.mcast(1, "sync-1") // waiting for trans ack: goes to the trans queue
	h.run(time.Second)
	if got := h.node(2).messages(); !slices.Equal(got, []string{"1:sync-1"}) {
		t.Fatalf("delivered %v", got)
	}
	for _, hn := range h.nodes {
		hn.n.TransAck()
	}
	h.mcast(1, "app-1")
	h.run(time.Second)
	if got := h.node(2).messages(); !slices.Equal(got, []string{"1:sync-1", "1:app-1"}) {
		t.Fatalf("delivered %v", got)
	}
	// A configuration change re-arms the gate: traffic queued before it
	// waits until TransAck, traffic submitted after it (sync) goes first.
	h.kill(2)
	h.runUntil(10*time.Second, func() bool { return h.node(1).n.state == Gather })
	h.mcast(1, "old")
	formRing(t, h, 1)
	h.mcast(1, "sync-2")
	h.run(time.Second)
	if got := h.node(1).messages(); slices.Contains(got, "1:old") || !slices.Contains(got, "1:sync-2") {
		t.Fatalf("before TransAck delivered %v, want sync-2 and not old", got)
	}
	h.node(1).n.TransAck()
	h.node(1).n.Signal(h.now)
	h.drain(h.node(1))
	h.run(2 * time.Second)
	if got := h.node(1).messages(); !slices.Equal(got[len(got)-2:], []string{"1:sync-2", "1:old"}) {
		t.Fatalf("after TransAck delivered %v", got)
	}
}

func TestPauseDetectorDropsJoin(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2}, nil)
	u.take()
	u.now += 3 * time.Second // no Tick for longer than token/2
	_ = u.n.Receive(u.now, joinFrame(2, []NodeID{2, 1}, nil, 5))
	if slices.Contains(u.n.proc, 2) {
		t.Error("join after a process pause was not dropped")
	}
	u.tick(time.Millisecond) // timers catch up
	u.recv(joinFrame(2, []NodeID{2, 1}, nil, 5))
	if !slices.Contains(u.n.proc, 2) {
		t.Error("join after the pause detector caught up was dropped")
	}
}

func TestHeartbeatActsAsTokenLoss(t *testing.T) {
	h := newHarness(t, 3)
	h.mutate = func(c *Config) { c.HeartbeatFailures = 2 }
	h.startAll()
	formRing(t, h, 1, 2, 3)
	n := h.node(1).n
	if n.heartbeatTimeout != 2*n.cfg.TokenRetransmit+n.cfg.MaxNetworkDelay {
		t.Fatalf("heartbeat timeout %v", n.heartbeatTimeout)
	}
	h.kill(3)
	killed := h.now
	formRing(t, h, 1, 2)
	if took := h.now - killed; took >= n.cfg.Token+n.cfg.Consensus {
		t.Errorf("failure detected after %v, want the heartbeat (%v) to beat the token timeout", took, n.heartbeatTimeout)
	}
}

func TestFaultsBreakTheProtocol(t *testing.T) {
	t.Run("ReorderDelivery", func(t *testing.T) {
		h := newHarness(t, 3)
		h.mutate = func(c *Config) { c.Faults.ReorderDelivery = true }
		h.startAll()
		formRing(t, h, 1, 2, 3)
		sendBurst(h, 100, 1, 2, 3)
		h.run(5 * time.Second)
		if slices.Equal(h.node(1).messages(), h.node(2).messages()) && slices.Equal(h.node(2).messages(), h.node(3).messages()) {
			t.Error("all nodes still delivered the same order")
		}
	})
	t.Run("SkipRetransmit", func(t *testing.T) {
		h := newHarness(t, 3)
		h.mutate = func(c *Config) { c.Faults.SkipRetransmit = true }
		h.startAll()
		formRing(t, h, 1, 2, 3)
		dropped := false
		h.drop = func(p *packet) bool {
			if !dropped && p.to == 2 && p.from == 1 && p.frame[3] == byte(typeMcast) {
				dropped = true
				return true
			}
			return false
		}
		sendBurst(h, 20, 1)
		h.run(3 * time.Second)
		if len(h.node(2).messages()) == 20 {
			t.Error("the lost message was delivered anyway")
		}
	})
}

func TestSendJoinRandomDelay(t *testing.T) {
	var asked []int64
	u := newUnit(t, 1, []NodeID{1, 2}, func(c *Config) {
		c.SendJoin = 30 * time.Millisecond
		c.Rand = func(n int64) int64 { asked = append(asked, n); return 12000 } // 12 ms in µs
	})
	if len(sent(t, u.take(), typeJoin)) != 0 {
		t.Fatal("join sent before its random delay")
	}
	if len(asked) != 1 || asked[0] != 30000 {
		t.Fatalf("Rand asked for %v, want [30000] (µs)", asked)
	}
	if at, ok := u.n.NextDeadline(); !ok || at != 12*time.Millisecond {
		t.Fatalf("next deadline %v %v, want 12ms", at, ok)
	}
	u.tick(12 * time.Millisecond)
	if len(sent(t, u.take(), typeJoin)) != 1 {
		t.Fatal("delayed join not sent at its deadline")
	}
}

func TestTokenHooksMayMcast(t *testing.T) {
	h := newHarness(t, 2)
	var received, sentHooks int
	fire := false
	h.mutate = func(c *Config) {
		if c.Self != 1 {
			return
		}
		c.OnTokenReceived = func() {
			received++
			if fire {
				fire = false
				_ = h.node(1).n.Mcast(h.now, []byte("from-hook"))
			}
		}
		c.OnTokenSent = func() { sentHooks++ }
	}
	h.startAll()
	formRing(t, h, 1, 2)
	fire = true
	h.run(time.Second)
	if fire || received == 0 || sentHooks == 0 {
		t.Fatalf("hooks ran %d/%d times", received, sentHooks)
	}
	if got := h.node(2).messages(); !slices.Contains(got, "1:from-hook") {
		t.Fatalf("message queued in the token hook not delivered: %v", got)
	}
}

func TestBigEndianPeerMessage(t *testing.T) {
	h := newHarness(t, 2)
	h.start(1)
	formRing(t, h, 1)
	n := h.node(1).n
	ring := n.ring
	frame := be8().hdr(typeMcast, encapNormal, 2).u32(2, n.highSeqReceived+1, 0).ring(uint32(ring.Rep), ring.Seq).u32(0, 0).u8('b', 'e').b
	if err := n.Receive(h.now, frame); err != nil {
		t.Fatal(err)
	}
	r := n.Ready()
	if len(r.Deliveries) != 1 {
		t.Fatalf("deliveries %+v", r.Deliveries)
	}
	d := r.Deliveries[0]
	if d.From != 2 || !d.Swapped || string(d.Payload) != "be" {
		t.Errorf("delivery %+v, want from 2 swapped payload \"be\"", d)
	}
}

// TestForeignNewsDeferredWhileSettling: right after a ring is installed,
// news from outside it waits two token visits before starting GATHER.
func TestForeignNewsDeferredWhileSettling(t *testing.T) {
	h := newHarness(t, 3) // node 3 never starts
	h.start(1)
	h.start(2)
	formRing(t, h, 1, 2)
	n := h.node(1).n
	n.settleVisits = 0
	m := mergeDetect{hdr: header{nodeID: 3}, from: 3, ring: RingID{3, 99}}
	if err := n.Receive(h.now, m.appendTo(nil)); err != nil {
		t.Fatal(err)
	}
	if n.state != Operational || !slices.Equal(n.deferred, []NodeID{3}) {
		t.Fatalf("state %d deferred %v, want OPERATIONAL with [3] deferred", n.state, n.deferred)
	}
	before := n.counters.GatherEntered
	h.runUntil(5*time.Second, func() bool { return n.counters.GatherEntered > before })
	if n.counters.GatherEntered == before || len(n.deferred) != 0 {
		t.Fatal("deferred merge never started GATHER")
	}
	if n.settleVisits < 2 {
		t.Errorf("GATHER after %d token visits, want 2", n.settleVisits)
	}
	formRing(t, h, 1, 2)
}

// A processor from another ring that agreed with our join hands over the
// verdicts of its consensus timeout, except on processors that agreed
// with us too.
func TestAgreedProcessorsVerdictsAdopted(t *testing.T) {
	all := []NodeID{1, 2, 3, 4, 5}
	u := newUnit(t, 2, all, nil)
	u.n.memb = []NodeID{2}            // 3 and 4 are of other rings
	u.recv(joinFrame(3, all, nil, 5)) // news: proc = all
	u.recv(joinFrame(3, all, nil, 5)) // 3 agrees
	u.recv(joinFrame(4, all, nil, 5)) // 4 agrees
	if !slices.Equal(u.n.consensus, []NodeID{2, 3, 4}) {
		t.Fatalf("consensus %v, want [2 3 4]", u.n.consensus)
	}
	u.take()
	// 3's consensus timeout failed 1 and 5, and 4 whose join it missed.
	u.recv(joinFrame(3, all, []NodeID{1, 5, 4}, 5))
	if !slices.Equal(u.n.failed, []NodeID{1, 5}) {
		t.Errorf("failed %v, want [1 5]", u.n.failed)
	}
	if len(sent(t, u.take(), typeJoin)) != 1 {
		t.Error("no join sent with the adopted verdicts")
	}
	// A processor that has not agreed with us hands over nothing.
	v := newUnit(t, 2, all, nil)
	v.n.memb = []NodeID{2}
	v.recv(joinFrame(3, all, nil, 5)) // news: proc = all
	v.recv(joinFrame(5, all, []NodeID{3}, 5))
	if len(v.n.failed) != 0 {
		t.Errorf("failed %v after a join from a processor that never agreed, want none", v.n.failed)
	}
}
