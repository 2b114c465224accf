package srp

import (
	"slices"
	"testing"
	"time"
)

// A verdict lasts until the failed processor moves to a newer ring and
// proposes a membership that does not exclude us.
func TestVerdictDroppedWhenProcessorMovesOn(t *testing.T) {
	tests := []struct {
		name       string
		ringSeq    uint64
		seenRing   bool // ring seq 9 was seen operating
		failed     []NodeID
		wantFailed bool
	}{
		{"same ring keeps the verdict", 5, true, nil, true},
		{"newer ring drops it", 9, true, nil, false},
		{"newer ring never seen operating keeps it", 9, false, nil, true},
		{"newer ring naming us failed keeps it", 9, true, []NodeID{1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t, 1, []NodeID{1, 2, 3}, nil)
			u.recv(joinFrame(3, []NodeID{3}, nil, 5)) // 3 claims ring seq 5
			u.n.fail(3)
			if tc.seenRing {
				u.n.noteInstalled(9) // as a merge detect or message of ring x.9 would
			}
			u.take()
			u.recv(joinFrame(3, []NodeID{1, 3}, tc.failed, tc.ringSeq))
			if got := slices.Contains(u.n.failed, 3); got != tc.wantFailed {
				t.Errorf("3 failed = %v, want %v (failed %v)", got, tc.wantFailed, u.n.failed)
			}
			// Without the verdict 3's join equals ours: 1, the lowest, commits.
			if committed := u.n.state == Commit; committed == tc.wantFailed {
				t.Errorf("state %v, want COMMIT iff the verdict was dropped", u.n.state)
			}
		})
	}
}

func TestVerdictDroppedOnNewerMergeDetect(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2, 3}, nil)
	u.recv(joinFrame(3, []NodeID{3}, nil, 5))
	u.n.fail(3)
	u.take()
	m := mergeDetect{hdr: header{nodeID: 3}, from: 3, ring: RingID{Rep: 3, Seq: 9}}
	u.recv(m.appendTo(nil))
	if slices.Contains(u.n.failed, 3) {
		t.Errorf("merge detect from ring 3.9 left 3 failed: %v", u.n.failed)
	}
	if len(sent(t, u.take(), typeJoin)) == 0 {
		t.Error("no join sent after dropping the verdict")
	}
}

// A member's verdict on a processor that just moved past the member's ring
// is stale and not adopted; a member's verdict on itself (leave, failed to
// receive) always is.
func TestMemberVerdictOnProcessorThatMovedOn(t *testing.T) {
	u := newUnit(t, 1, []NodeID{1, 2, 3, 4}, nil)
	u.n.memb = []NodeID{1, 2}
	u.recv(joinFrame(3, []NodeID{3}, nil, 9)) // 3 moved to ring seq 9
	u.take()
	u.recv(joinFrame(2, []NodeID{1, 2, 3, 4}, []NodeID{3, 2}, 5))
	if slices.Contains(u.n.failed, 3) || !slices.Contains(u.n.failed, 2) {
		t.Errorf("failed %v, want 2 (its own verdict) and not 3", u.n.failed)
	}
	// A consensus period later the move is old news and the verdict holds.
	u.tick(u.n.cfg.Consensus + time.Millisecond)
	u.recv(joinFrame(2, u.n.proc, []NodeID{3, 2, 4}, 5))
	if !slices.Contains(u.n.failed, 3) {
		t.Errorf("failed %v, want 3 adopted once its move is old", u.n.failed)
	}
}
