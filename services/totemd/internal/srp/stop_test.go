package srp

import (
	"slices"
	"testing"
)

// leave makes node id leave the ring gracefully: its leave goes out and it
// stops.
func (h *harness) leave(id NodeID) {
	hn := h.node(id)
	hn.n.Leave(h.now)
	h.drain(hn)
	h.kill(id)
}

// TestLeavesRightAfterInstallsAreNotPauses is cause (B) of the clean stop
// handled like a crash: ring installations re-arm the pause timer, and
// when that did not refresh its timestamp, two installations in a row
// aged the timestamp past token/2 with the process running all along,
// and the next join (a leave) was dropped as if it had queued up during
// a process pause. The survivor then only noticed the stop through the
// token loss.
func TestLeavesRightAfterInstallsAreNotPauses(t *testing.T) {
	h := newHarness(t, 4)
	h.startAll()
	formRing(t, h, 1, 2, 3, 4)
	n1 := h.node(1).n
	tok := n1.cfg.Token
	// Each leave comes shortly before node 1's pause timer would fire,
	// so each installation pushes the timer back unfired.
	for _, c := range []struct {
		leaver NodeID
		rest   []NodeID
	}{{4, []NodeID{1, 2, 3}}, {3, []NodeID{1, 2}}} {
		h.run(n1.tm.at[timerPause] - h.now - tok/50)
		h.leave(c.leaver)
		if !h.runUntil(tok/100, func() bool { return h.operational(c.rest...) }) {
			t.Fatalf("no ring %v within %v of node %d's leave", c.rest, tok/100, c.leaver)
		}
		if !n1.tm.running(timerPause) || n1.tm.at[timerPause]-h.now < tok/10 {
			t.Fatalf("test premise: the install did not push the pause timer back (due %v, now %v)", n1.tm.at[timerPause], h.now)
		}
	}
	h.run(tok/5 - tok/50) // not long enough for the pause timer to fire
	lost := n1.counters.TokenTimeouts
	h.leave(2)
	left := h.now
	if !h.runUntil(n1.cfg.Join+n1.cfg.Consensus, func() bool { return h.operational(1) }) {
		t.Fatalf("node 1 alone only by %v after node 2's leave (state %d): the leave was taken for a paused process's backlog", h.now-left, n1.state)
	}
	if n1.counters.TokenTimeouts != lost {
		t.Errorf("node 1 waited for a token loss after a clean leave")
	}
	tr, _ := lastConfs(t, h.node(1))
	if len(tr.Left) != 1 || tr.Left[0] != 2 {
		t.Errorf("transitional left %v, want [2]", tr.Left)
	}
}

// TestPauseStillDetectedAfterInstall keeps the pause detector working: a
// join handled after the process missed its pause timer by more than
// token/2 is still dropped.
func TestPauseStillDetectedAfterInstall(t *testing.T) {
	h := newHarness(t, 2)
	h.startAll()
	formRing(t, h, 1, 2)
	n := h.node(1).n
	at := n.tm.at[timerPause] + n.cfg.Token // the timer is overdue: a pause
	gatherBefore := n.counters.GatherEntered
	_ = n.Receive(at, joinFrame(2, []NodeID{1, 2}, nil, n.ring.Seq))
	if n.counters.GatherEntered != gatherBefore || n.state != Operational {
		t.Error("a join queued behind a process pause was processed")
	}
}

// commitUnit brings node 1 of {1,2,3,4} into COMMIT for the ring {1,2,3},
// with every processor's ring seq at 5.
func commitUnit(t *testing.T) *unit {
	t.Helper()
	u := newUnit(t, 1, []NodeID{1, 2, 3, 4}, nil)
	u.recv(joinFrame(2, []NodeID{1, 2, 3}, nil, 5))
	u.recv(joinFrame(1, []NodeID{1, 2, 3}, nil, 5)) // our own join back
	u.recv(joinFrame(3, []NodeID{1, 2, 3}, nil, 5))
	u.recv(joinFrame(2, []NodeID{1, 2, 3}, nil, 5))
	if u.n.state != Commit || u.n.ring.Seq != 9 {
		t.Fatalf("test premise: state %d ring %v, want COMMIT on seq 9", u.n.state, u.n.ring)
	}
	u.take()
	return u
}

// TestCommitYieldsToAMemberThatRefusesIt is bounded formation: a member of
// the proposed ring that heard of another processor before our commit
// token reached it refuses the token; its join (still carrying its old
// ring seq) must bring us back to GATHER at once, not after the token
// loss.
func TestCommitYieldsToAMemberThatRefusesIt(t *testing.T) {
	u := commitUnit(t)
	u.recv(joinFrame(2, []NodeID{1, 2, 3, 4}, nil, 5))
	if u.n.state != Gather || !slices.Contains(u.n.proc, 4) {
		t.Fatalf("state %d proc %v after a refusing member's join, want GATHER with 4", u.n.state, u.n.proc)
	}
	if len(sent(t, u.take(), typeJoin)) == 0 {
		t.Error("no join sent on returning to GATHER")
	}

	// A member's leave refuses the commit too (it names itself failed).
	u = commitUnit(t)
	leave := joinMsg{hdr: header{nodeID: 0}, from: 3, proc: []NodeID{1, 2}, failed: []NodeID{3}, ringSeq: 5}
	u.recv(leave.appendTo(nil))
	if u.n.state != Gather || !slices.Contains(u.n.failed, 3) {
		t.Fatalf("state %d failed %v after a member's leave, want GATHER with 3 failed", u.n.state, u.n.failed)
	}
}

// TestCommitIgnoresStaleJoins keeps corosync's filter for what it is for:
// joins a member sent before it agreed with us (older views, or ours) must
// not break the commit.
func TestCommitIgnoresStaleJoins(t *testing.T) {
	for _, j := range []struct {
		name         string
		from         NodeID
		proc, failed []NodeID
	}{
		{"older view", 2, []NodeID{1, 2}, nil},
		{"our view", 3, []NodeID{1, 2, 3}, nil},
		{"non-member with news", 4, []NodeID{1, 2, 3, 4}, nil},
	} {
		t.Run(j.name, func(t *testing.T) {
			u := commitUnit(t)
			u.recv(joinFrame(j.from, j.proc, j.failed, 5))
			if u.n.state != Commit {
				t.Fatalf("state %d, want COMMIT kept", u.n.state)
			}
		})
	}
}

// TestLeaveFromAnotherRingIsAdopted: a leave is its sender's verdict on
// itself, so a processor that was not in the leaver's ring fails it too
// instead of waiting for its consensus timeout.
func TestLeaveFromAnotherRingIsAdopted(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2, 3}, nil)
	u.recv(joinFrame(2, []NodeID{1, 2, 3}, nil, 9)) // 2 and 3 come from another ring
	u.recv(joinFrame(3, []NodeID{1, 2, 3}, nil, 9)) // 3 was heard just now
	u.take()
	leave := joinMsg{hdr: header{nodeID: 0}, from: 3, proc: []NodeID{1, 2}, failed: []NodeID{3}, ringSeq: 9}
	u.recv(leave.appendTo(nil))
	if !slices.Contains(u.n.failed, 3) {
		t.Fatalf("failed %v after node 3's leave, want 3 in it", u.n.failed)
	}
	u.recv(joinFrame(1, []NodeID{1, 2, 3}, []NodeID{3}, 5))
	u.recv(joinFrame(2, []NodeID{1, 2, 3}, []NodeID{3}, 9))
	if u.n.state != Commit || !slices.Equal(u.n.commit.addrs, []NodeID{1, 2}) {
		t.Fatalf("state %d commit members %v, want COMMIT for [1 2] without a consensus timeout", u.n.state, u.n.commit.addrs)
	}
}
